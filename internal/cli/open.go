package cli

import (
	"context"
	"fmt"
	"runtime/debug"

	ratapp "github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/config"
	"github.com/spf13/cobra"
)

// app is what a command works with: the live objects of the composition
// root (internal/app), with the cli's helpers as methods.
type app struct {
	*ratapp.App
}

// loadConfig reads the effective configuration for a command.
func (g *globals) loadConfig(flags map[string]string) (*config.Config, error) {
	if flags == nil {
		flags = map[string]string{}
	}
	if g.profile != "" {
		flags["profile"] = g.profile
	}
	return config.Load(config.Options{Dir: g.dir, Flags: flags})
}

// open builds the app for a command from the composition root. flags are
// per-command overrides (branch, warehouse).
func (g *globals) open(ctx context.Context, flags map[string]string) (*app, error) {
	cfg, err := g.loadConfig(flags)
	if err != nil {
		return nil, err
	}
	g.fitMachine(cfg)
	root, err := ratapp.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &app{App: root}, nil
}

// fitMachine prints, once a process, the warning of a profile or DuckDB
// memory larger than the machine or container (config.Fit), and sets the
// Go runtime's soft memory limit below a container's (it is 0 outside a
// cgroup and when the user set GOMEMLIMIT, which the runtime read itself).
func (g *globals) fitMachine(cfg *config.Config) {
	if g.fitted {
		return
	}
	g.fitted = true
	if w := cfg.Fit.Warning; w != "" {
		fmt.Fprintln(g.stderr, "rat: warning: "+w)
	}
	if n := cfg.Fit.GoMemoryLimitBytes; n > 0 {
		debug.SetMemoryLimit(n)
	}
}

// withApp opens the app for cmd, runs fn with it and closes it. branch is
// the command's --branch (empty: the configured branch).
func (g *globals) withApp(cmd *cobra.Command, branch string, fn func(ctx context.Context, a *app) error) error {
	ctx := cmd.Context()
	a, err := g.open(ctx, map[string]string{"branch": branch})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(ctx, a)
}

// openIn is open as if rat ran in dir (-C dir).
func (g *globals) openIn(ctx context.Context, dir string, flags map[string]string) (*app, error) {
	g2 := *g
	g2.dir = dir
	return g2.open(ctx, flags)
}
