// Command rat is the rat lakehouse: one binary for loading, querying,
// branching and merging Iceberg tables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ratdata/rat/internal/cli"
	"github.com/ratdata/rat/internal/startgc"
)

func main() {
	startgc.Restore()
	// A closed pipe on stdout or stderr ('rat demo | head -1') fails the
	// write (EPIPE) instead of killing rat half-way through a run: the run
	// finishes and is recorded.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
