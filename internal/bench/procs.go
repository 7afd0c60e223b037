package bench

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"time"

	"github.com/ratdata/rat/internal/proc"
)

// benchProcs runs rat child processes and stops them all at the end.
type benchProcs struct {
	self  string
	dir   string
	extra []string // global flags passed on (--profile)
	env   []string // added to the environment
	procs []*exec.Cmd
}

func (b *benchProcs) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, b.self, append(append([]string{"-C", b.dir}, b.extra...), args...)...)
	cmd.Env = append(append(os.Environ(), b.env...), "NO_COLOR=1")
	return cmd
}

// start starts a daemon and waits for a stderr line matching ready.
func (b *benchProcs) start(ctx context.Context, ready *regexp.Regexp, args ...string) (string, error) {
	cmd := b.command(ctx, args...)
	v, err := proc.StartAndWait(cmd, ready, 60*time.Second)
	if cmd.Process != nil {
		b.procs = append(b.procs, cmd)
	}
	return v, err
}

func (b *benchProcs) stop() {
	for _, p := range b.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range b.procs {
		proc.WaitOrKill(p, 40*time.Second)
	}
}
