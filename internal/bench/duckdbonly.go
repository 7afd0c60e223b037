package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/textout"
)

// DuckDBOnly is the plain-DuckDB side of rat bench query's whole-process
// comparison ('rat bench duckdb-only'): one query on DuckDB alone, with
// the profile's memory and threads, printed as rat query prints it — no
// configuration, catalog, metadata or planning. It runs in the rat binary,
// so it pays the same process start and package initialisation as rat
// query; the bench reports that cost separately.
func DuckDBOnly(ctx context.Context, out, errOut io.Writer, memoryMB, threads int, query string) error {
	db, err := duckdb.Open(duckdb.Options{MemoryLimitMB: memoryMB, Threads: threads})
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.SQL().QueryContext(ctx, query)
	if err != nil {
		return duckdb.UserError("query", err)
	}
	defer rows.Close()
	w := bufio.NewWriter(out)
	n, err := duckdb.WriteRows(w, rows, "table", 1000)
	if err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Fprintf(errOut, "(%s)\n", textout.Plural(n, "row"))
	return w.Flush()
}
