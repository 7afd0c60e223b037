package migrate

import (
	"errors"
	"syscall"

	"github.com/ratdata/rat"
)

// targetFull turns a failure to write into a full target warehouse (no
// space left on its disk) into one error that says what happened, what it
// left and what to do. Nothing is published then: the catalog, which
// makes the target live, is copied only after every file. Other errors
// are returned as they are.
func targetFull(err error, opts Options) error {
	if err == nil || !errors.Is(err, syscall.ENOSPC) || opts.Target.Warehouse == nil {
		return err
	}
	return rat.Errorf(rat.EUNAVAILABLE, "the target warehouse %s is full (no space left on its disk): the files copied so far stay there, nothing is published (the catalog is copied after every file); free space there (rat migrate --dry-run shows the bytes needed) and run the same command again: it continues where it stopped: %w",
		root(opts.Target.Warehouse), err)
}
