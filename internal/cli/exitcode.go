package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ratdata/rat"
	"github.com/spf13/cobra"
)

// exitStatuses is the one table from rat's error codes to process exit
// statuses. 'rat --help' prints it and README.md lists it (a test keeps
// them equal), so scripts can tell a conflict from a missing table.
var exitStatuses = []struct {
	status int
	codes  []string // the error codes with this status
	means  string
}{
	{0, nil, "success"},
	{1, []string{rat.EINTERNAL, rat.EUNAVAILABLE, rat.EUNAUTHORIZED}, "failure: a service out of reach, a refused token, an unexpected error"},
	{2, []string{rat.EINVALID}, "usage or bad input: a flag, an argument, a file, a setting, a pipeline's SQL"},
	{3, []string{rat.ECONFLICT}, "conflict: a merge conflict, a concurrent change, a run skipped by its overlap policy"},
	{4, []string{rat.ENOTFOUND}, "not found: no such table, branch, tag, run or file"},
	{5, []string{rat.ETESTFAILED}, "tests failed: an error-severity test of rat test or rat run (nothing was published)"},
	{130, nil, "interrupted"},
}

// exitStatus is the exit status of a command that returned err; started
// tells whether the command itself ran (cobra's own errors, an unknown
// command or a flag misuse, come before it and are usage errors).
func exitStatus(err error, started bool) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		return 130
	case errors.As(err, &ue), !started && !isRatError(err):
		return 2
	}
	code := rat.ErrorCode(err)
	for _, e := range exitStatuses {
		for _, c := range e.codes {
			if c == code {
				return e.status
			}
		}
	}
	return 1
}

// noteStart makes every command of the tree set *started when its own
// code begins, after cobra has checked its arguments and flags.
func noteStart(c *cobra.Command, started *bool) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			*started = true
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		noteStart(sub, started)
	}
}

func isRatError(err error) bool {
	var e *rat.Error
	return errors.As(err, &e)
}

// exitStatusHelp is the exit status section of 'rat --help'.
func exitStatusHelp() string {
	var b strings.Builder
	b.WriteString("Exit status:\n")
	for _, e := range exitStatuses {
		fmt.Fprintf(&b, "  %-3d  %s\n", e.status, e.means)
	}
	return strings.TrimRight(b.String(), "\n")
}

// exitCode is a command's own exit status that is not a failure (rat
// status: 1 warning, 2 critical); Run prints nothing for it.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
