// Package startgc keeps the garbage collector off while rat's packages
// initialise; main turns it back on with Restore.
//
// Initialisation allocates tens of megabytes that stay live: iceberg-go's
// table/substrait package, which every binary linking iceberg-go's table
// package initialises, parses all of Substrait's default extension files
// (YAML) into a package-level collection, about 30 MB in half a million
// allocations. With the default GOGC the collector starts at a 4 MB heap
// and runs several times over that growing, live heap, about a quarter of
// rat's start-up CPU, on every command. Nothing it could free is garbage
// worth collecting before main.
package startgc

import "runtime/debug"

// gcPercent is GOGC as the runtime read it (100 unless set). Go initialises
// a package before the packages that import it and otherwise in the order
// of their import paths among those ready; importing only runtime/debug,
// this one is ready before, and so runs before, iceberg-go's and
// substrait-go's packages, which import far more.
var gcPercent = debug.SetGCPercent(-1)

// Restore turns the collector back on as GOGC says. main calls it first.
func Restore() { debug.SetGCPercent(gcPercent) }
