// Package startgc keeps the garbage collector mostly off while rat's
// packages initialise; main turns it back on with Restore.
//
// Initialisation allocates about 45 MB: iceberg-go's table/substrait
// package, which every binary linking iceberg-go's table package
// initialises, parses all of Substrait's default extension files (YAML)
// into a package-level collection, about 30 MB in half a million
// allocations. With the default GOGC the collector starts at a 4 MB heap
// and runs about eight times over that growing heap, a quarter of rat's
// start-up CPU, on every command. With the collector off until the heap
// nears initLimit it runs once.
package startgc

import (
	"os"
	"runtime/debug"
)

// initLimit is the memory the runtime may use during initialisation
// before it collects: most of what initialisation allocates, so that the
// collector runs about once, and a bound should initialisation ever
// allocate much more. (A short command's peak resident memory still grows,
// from about 65 to about 110 MB for rat --help, most of it freed heap not
// yet returned to the system.)
const initLimit = 40 << 20

// Go initialises a package before the packages that import it and
// otherwise in the order of their import paths among those ready;
// importing only runtime/debug, this one is ready before, and so runs
// before, iceberg-go's and substrait-go's packages, which import far more.
var (
	gcPercent   = debug.SetGCPercent(-1) // GOGC as the runtime read it
	memoryLimit = debug.SetMemoryLimit(min(debug.SetMemoryLimit(-1), initLimit))
)

// Restore sets the collector as GOGC and GOMEMLIMIT say. main calls it
// first.
func Restore() {
	debug.SetGCPercent(gcPercent)
	debug.SetMemoryLimit(memoryLimit)
}

// LongRunningPercent is the collector's GOGC in rat serve and rat worker
// when the environment sets none: the heap may grow to five times what is
// live between collections instead of twice. Building a node allocates a
// few megabytes that die at once (iceberg-go's Avro writers above all)
// over a live heap of tens of megabytes, most of it iceberg-go's
// package-level data; with the default GOGC the collector took a fifth of
// the CPU of a queued run of trivial nodes.
const LongRunningPercent = 400

// LongRunning sets the collector of a long-running process: GOGC
// LongRunningPercent unless the environment sets GOGC (GOMEMLIMIT still
// bounds the heap). It returns the GOGC now in effect.
func LongRunning() int {
	if _, set := os.LookupEnv("GOGC"); set {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	debug.SetGCPercent(LongRunningPercent)
	return LongRunningPercent
}
