// Package proc starts long-running rat processes (rat serve, rat worker)
// and stops them: the benchmarks and the cli's tests both drive them as
// child processes and wait for their "ready" line on stderr.
package proc

import (
	"bufio"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/ratdata/rat"
)

// StartAndWait starts cmd (a long-running rat command) and waits up to
// timeout for a stderr line matching ready; it returns that line's last
// submatch. A command that exits first reports its first lines.
func StartAndWait(cmd *exec.Cmd, ready *regexp.Regexp, timeout time.Duration) (string, error) {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	found := make(chan string, 1)
	var tail []string
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[len(m)-1]
				sent = true
			} else if !sent && len(tail) < 20 {
				tail = append(tail, sc.Text())
			}
		}
		if !sent {
			close(found)
		}
	}()
	name := strings.Join(cmd.Args[1:], " ")
	select {
	case v, ok := <-found:
		if !ok {
			return "", rat.Errorf(rat.EUNAVAILABLE, "rat %s exited before it was ready:\n%s", name, strings.Join(tail, "\n"))
		}
		return v, nil
	case <-time.After(timeout):
		return "", rat.Errorf(rat.EUNAVAILABLE, "rat %s was not ready after %s", name, timeout)
	}
}

// WaitOrKill waits for a process told to stop, and kills it after grace.
func WaitOrKill(cmd *exec.Cmd, grace time.Duration) {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
	}
}
