package cli

import (
	"context"

	"github.com/ratdata/rat"
	ratapp "github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/bench"
	"github.com/spf13/cobra"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure rat against plain DuckDB and the catalog under load",
		Example: `  rat bench query --rows 1000000
  rat bench pipeline --rows 500000
  rat bench catalog --writers 1,8
  rat bench serve
  rat bench api
  rat bench migrate --sizes 0.5,1,2
  rat bench optimize`,
	}
	cmd.AddCommand(newBenchQueryCmd(g), newBenchCatalogCmd(g), newBenchPipelineCmd(g), newBenchServeCmd(g), newBenchAPICmd(g), newBenchMigrateCmd(g), newBenchOptimizeCmd(g), newBenchDuckDBOnlyCmd())
	return cmd
}

// benchEnv is what the benchmarks get from a command: the composition
// root for a directory, the --profile to pass on, the command's output.
func (g *globals) benchEnv(cmd *cobra.Command) bench.Env {
	return bench.Env{
		Open: func(ctx context.Context, dir string, flags map[string]string) (*ratapp.App, error) {
			a, err := g.openIn(ctx, dir, flags)
			if err != nil {
				return nil, err
			}
			return a.App, nil
		},
		Profile:  g.profile,
		Out:      cmd.OutOrStdout(),
		Progress: cmd.ErrOrStderr(),
	}
}

func newBenchQueryCmd(g *globals) *cobra.Command {
	var rows, reps, files, tables, processReps int
	var warehouse, dir, only string
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Compare query speed through rat with plain DuckDB read_parquet over the same files",
		Long: `Build a synthetic table (id, ts, customer, region, amount, qty), then run 10
analytical queries twice per repetition: through rat (catalog lookup, Iceberg
metadata, field-id mapping, read cache) and through plain DuckDB read_parquet
over the very same files, in one process, warm. Prints per-query medians,
each ratio rat/plain and their geometric mean, and rat's planning overhead
with --tables tables in the catalog.

Then what a user waits for: 'rat query' as a new process against DuckDB
alone as a new process (a hidden subcommand of this binary, so both pay the
same process start, reported on its own as 'rat --help'), for SELECT 1, a
count and a group-by (or the --query ones), --process-reps runs each.

The state lives in a temporary directory (or --dir); --warehouse s3://bucket/prefix/
puts the table on S3 (credentials from S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY).`,
		Example: `  rat bench query
  rat bench query --rows 1000000 --reps 3 --query group`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.Query(cmd.Context(), g.benchEnv(cmd), bench.QueryOptions{Dir: dir, Warehouse: warehouse, Rows: rows, Files: files,
				Reps: reps, Tables: tables, ProcessReps: processReps, Only: only})
		},
	}
	cmd.Flags().IntVar(&rows, "rows", 10_000_000, "rows in the synthetic table")
	cmd.Flags().IntVar(&files, "files", 10, "number of appends (data files) the table is built from")
	cmd.Flags().IntVar(&reps, "reps", 5, "timed repetitions per query and engine")
	cmd.Flags().IntVar(&tables, "tables", 100, "tables in the catalog when measuring planning overhead")
	cmd.Flags().IntVar(&processReps, "process-reps", 10, "runs per query of the whole-process comparison (0 skips it)")
	cmd.Flags().StringVar(&warehouse, "warehouse", "", "warehouse for the bench table (default: a local temporary directory)")
	cmd.Flags().StringVar(&only, "query", "", "run only the queries whose name contains this text")
	cmd.Flags().StringVar(&dir, "dir", "", "state directory to use (default: a new temporary directory, removed afterwards)")
	return cmd
}
func newBenchOptimizeCmd(g *globals) *cobra.Command {
	var o bench.OptimizeOptions
	cmd := &cobra.Command{
		Use:   "optimize",
		Short: "Measure a table of many small appends before and after rat optimize",
		Long: `Build bench.events (the table of 'rat bench query') from --appends appends of
--rows rows each, so it holds thousands of small files, then in one process:
measure it, run rat optimize on it (sorted by --sort-by), and measure it
again. Side by side, with ratios before/after: data files, manifests,
bytes, cold planning time (a new Lake: load the table and list its files,
as a new process would) and the 10 bench queries (warm medians of --reps).
Every query's result is compared before and after (they must be identical),
and the peak resident memory of the process during optimize is printed next
to the profile's DuckDB memory limit. Progress goes to stderr.

The target file size is the configured one (maintenance.optimize, else the
profile's).`,
		Example: `  rat bench optimize
  rat bench optimize --appends 200 --rows 1000 --reps 3
  rat bench optimize --sort-by customer`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.Optimize(cmd.Context(), g.benchEnv(cmd), o)
		},
	}
	cmd.Flags().IntVar(&o.Appends, "appends", 2000, "appends (small data files) the table is built from")
	cmd.Flags().IntVar(&o.Rows, "rows", 5000, "rows per append")
	cmd.Flags().IntVar(&o.Reps, "reps", 5, "timed repetitions per query and of the planning")
	cmd.Flags().StringSliceVar(&o.SortBy, "sort-by", []string{"ts"}, "columns the compaction sorts by (empty: no sort)")
	cmd.Flags().StringVar(&o.Dir, "dir", "", "state directory to use (default: a new temporary directory, removed afterwards)")
	return cmd
}

func newBenchPipelineCmd(g *globals) *cobra.Command {
	var rows, days int
	var dir string
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Compare pipeline runs with plain DuckDB doing the same work, and incremental with full runs",
		Long: `Build a workspace with a landing zone of --rows events over --days days, then measure,
in one process:
  ingest        rat ingesting the CSV into bronze (Iceberg, registry, run branch,
                publish) vs plain DuckDB reading the CSV and writing Parquet
  full refresh  rat rebuilding the partitioned silver table vs plain DuckDB running
                the same SQL from the bronze files into partitioned Parquet
  incremental   rat merging a 1 % batch (changed and new keys of the last days)
                into silver vs the full refresh of silver
The resource profile applies (RAT_PROFILE, RAT_DUCKDB_MEMORY_MB): run it with a
memory limit below the data size to see DuckDB spill instead of failing.`,
		Example: `  rat bench pipeline
  rat bench pipeline --rows 1000000 --days 30
  RAT_PROFILE=tiny rat bench pipeline --rows 20000000`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.Pipeline(cmd.Context(), g.benchEnv(cmd), bench.PipelineOptions{Dir: dir, Rows: rows, Days: days})
		},
	}
	cmd.Flags().IntVar(&rows, "rows", 5_000_000, "events in the landing file")
	cmd.Flags().IntVar(&days, "days", 100, "days the events span (silver has one partition per day)")
	cmd.Flags().StringVar(&dir, "dir", "", "workspace directory to use (default: a new temporary directory, removed afterwards)")
	return cmd
}
func newBenchCatalogCmd(g *globals) *cobra.Command {
	var commits int
	var pgURL string
	var writerList []int
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Measure catalog commits per second with concurrent writers, then check none was lost",
		Long: `Commit to a fresh catalog with 1 and 8 concurrent writers, on SQLite and (with
--postgres or a postgres:// RAT_CATALOG_URL) on Postgres, in two workloads:
each writer on its own table (throughput), and all writers on one table
(contention: conflicts are retried). Reports commits/s, conflicts and
retries, then verifies from the log that every acknowledged commit is there
exactly once. Commits carry catalog entries only (no data files), so this
measures the catalog itself. Postgres runs in a scratch database that is
dropped afterwards.`,
		Example: `  rat bench catalog
  rat bench catalog --commits 500 --writers 1,4,16
  rat bench catalog --postgres 'postgres://rat@127.0.0.1:5432/rat?sslmode=disable'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pgURL == "" {
				if cfg, err := g.loadConfig(nil); err == nil && cfg.IsPostgres() {
					pgURL = cfg.CatalogURL
				}
			}
			return bench.Catalog(cmd.Context(), g.benchEnv(cmd), bench.CatalogOptions{Commits: commits, Writers: writerList, Postgres: pgURL})
		},
	}
	cmd.Flags().IntVar(&commits, "commits", 2000, "commits per run, split across the writers")
	cmd.Flags().StringVar(&pgURL, "postgres", "", "Postgres URL to benchmark too (a scratch database is created and dropped)")
	cmd.Flags().IntSliceVar(&writerList, "writers", []int{1, 8}, "concurrent writer counts to run")
	return cmd
}
func newBenchServeCmd(g *globals) *cobra.Command {
	var o bench.ServeOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Measure trigger-to-node-start latency and node throughput of rat serve",
		Long: `Start 'rat serve' (and, with --workers N, 'rat serve --no-worker' plus N 'rat worker'
processes) on a new workspace, then measure:
  latency     --runs API runs of a one-node pipeline, one after another: the time
              from POST /api/v1/runs to the node starting (p50, p99), side by
              side with starting the same run as a new 'rat run' process; then
              again once the workspace holds the --nodes pipelines below
  throughput  one run of --nodes independent trivial pipelines: nodes per second,
              and the CPU time rat serve and the workers spent per node (Linux)
The catalog comes from the environment as usual: set RAT_CATALOG_URL to a
Postgres database to measure the cluster setup (its queue is then Postgres too).
With --postgres the whole measurement runs a second time on a scratch database
next to the one the URL names (dropped afterwards), and a last table puts the
two side by side.`,
		Example: `  rat bench serve
  rat bench serve --workers 3 --nodes 200
  rat bench serve --workers 3 --postgres 'postgres://rat@127.0.0.1:5432/rat?sslmode=disable'`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Runs < 1 || o.Nodes < 1 || o.Workers < 0 {
				return &usageError{msg: "rat bench serve: --runs and --nodes must be at least 1, --workers at least 0"}
			}
			return bench.Serve(cmd.Context(), g.benchEnv(cmd), o)
		},
	}
	cmd.Flags().IntVar(&o.Runs, "runs", 50, "runs of the one-node pipeline for the latency figures")
	cmd.Flags().IntVar(&o.Nodes, "nodes", 1000, "trivial pipelines in the throughput run")
	cmd.Flags().IntVar(&o.Workers, "workers", 0, "separate 'rat worker' processes (0: rat serve executes runs itself)")
	cmd.Flags().StringVar(&o.Dir, "dir", "", "workspace directory to use (default: a new temporary directory, removed afterwards)")
	cmd.Flags().StringVar(&o.PprofDir, "pprof", "", "write CPU profiles of rat serve and of each worker into this directory (serve.pprof, worker-N.pprof)")
	cmd.Flags().StringVar(&o.Postgres, "postgres", "", "also measure on Postgres: a scratch database next to the one this URL names")
	return cmd
}

func newBenchAPICmd(g *globals) *cobra.Command {
	var rows, rowBytes, batch int
	var capBytes int64
	var compare, dir, sqlText string
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Measure the memory rat serve needs to answer a query whose result is far larger than its cap",
		Long: `Build a table of --rows rows of --row-bytes bytes each (1,000 × 1 MB by default),
start 'rat serve' on it, and send it the query that returns the whole table, as
JSON (POST /api/v1/query) and as a Parquet download (POST /api/v1/query/parquet),
each to a freshly started server. For each it prints the answer's status, size,
whether it was cut, the wall time, and the server's resident memory: idle, and at
its peak (VmHWM from /proc) against the result cap (max_result_bytes) + 256 MiB.

The table is written in appends of --batch rows: DuckDB reads a data file a vector
(up to 2,048 rows) at a time, so a table written in one append of 1,000 rows of
1 MB makes DuckDB hold all of them at once, whatever the server does with them;
--batch 1000 shows that floor.

--compare PATH measures a second rat binary (another build, e.g. of an older
commit) on the same table, side by side, with the ratios of the two. Linux only
(/proc).`,
		Example: `  rat bench api
  rat bench api --rows 200 --compare /tmp/rat-main
  RAT_PROFILE=tiny rat bench api --batch 1000`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rows < 1 || rowBytes < 16 || batch < 1 || capBytes < 0 {
				return &usageError{msg: "rat bench api: --rows and --batch must be at least 1, --row-bytes at least 16, --cap not negative"}
			}
			return bench.API(cmd.Context(), g.benchEnv(cmd), bench.APIOptions{
				Dir: dir, Rows: rows, RowBytes: rowBytes, Batch: batch, Cap: capBytes, Compare: compare, SQL: sqlText})
		},
	}
	cmd.Flags().IntVar(&rows, "rows", 1000, "rows in the table")
	cmd.Flags().IntVar(&rowBytes, "row-bytes", 1_000_000, "bytes of each row's text value")
	cmd.Flags().IntVar(&batch, "batch", 50, "rows per append (data file) when building the table")
	cmd.Flags().Int64Var(&capBytes, "cap", 0, "max_result_bytes of the server (default: the configured value, from the profile)")
	cmd.Flags().StringVar(&compare, "compare", "", "another rat binary to measure side by side on the same table")
	cmd.Flags().StringVar(&sqlText, "sql", "SELECT * FROM bench.wide", "the query to send")
	cmd.Flags().StringVar(&dir, "dir", "", "workspace directory to use (default: a new temporary directory, removed afterwards)")
	return cmd
}

func newBenchMigrateCmd(g *globals) *cobra.Command {
	var o bench.MigrateOptions
	var size string
	var sizes []string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Measure rat migrate's copy against a plain parallel copy of the same files, and the catalog copy",
		Long: `Build a workspace whose warehouse holds --size of tables (two Iceberg tables of random
doubles and hashes, written by rat in appends of up to 64 MiB, so several data files each),
then, in one run and in alternating order:
  rat migrate    'rat migrate --to-warehouse' of the workspace as a child process of this
                 binary: every file streamed through SHA-256, the Iceberg metadata
                 rewritten, the tables verified; its wall time, MB/s and peak resident memory
                 (the kernel's high-water mark of the child, Linux)
  plain copy     the same objects copied to a fresh location with as many workers: open,
                 put, nothing checked or rewritten (the yardstick)
and prints the MB/s of each and the ratio of their times. --sizes 0.5,1,2 measures several
sizes (the workspace grows from one to the next) so that the peak memory can be compared as
the data grows. Then the catalog: a SQLite catalog of --commits commits is copied
(sqlstore.Copy, as 'rat migrate --to-catalog' does) into a fresh SQLite catalog and, with
--postgres or a postgres:// RAT_CATALOG_URL, into a scratch Postgres database (dropped
afterwards); commits/s.

The target is a temporary directory unless --to-warehouse names one: s3://BUCKET/PREFIX
(S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_PATH_STYLE; the bucket must exist)
or a directory. Each run writes under a new prefix there and removes it afterwards. Sizes
take a unit (KiB, MiB, GiB, MB, GB; none means GiB).`,
		Example: `  rat bench migrate --size 256MiB
  rat bench migrate --sizes 0.5,1,2 --to-warehouse s3://bench/migrate --commits 10000
  rat bench migrate --size 1GiB --workers 16 --reps 3 --commits 0`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("size") && cmd.Flags().Changed("sizes") {
				return &usageError{msg: "rat bench migrate: give --size or --sizes, not both"}
			}
			if !cmd.Flags().Changed("sizes") {
				sizes = []string{size}
			}
			o.Sizes = nil
			for _, s := range sizes {
				n, err := bench.ParseSize(s)
				if err != nil {
					return &usageError{msg: "rat bench migrate: " + rat.ErrorMessage(err)}
				}
				o.Sizes = append(o.Sizes, n)
			}
			if o.Workers < 1 || o.Reps < 1 || o.Commits < 0 {
				return &usageError{msg: "rat bench migrate: --workers and --reps must be at least 1, --commits not negative"}
			}
			if o.Postgres == "" {
				if cfg, err := g.loadConfig(nil); err == nil && cfg.IsPostgres() {
					o.Postgres = cfg.CatalogURL
				}
			}
			return bench.Migrate(cmd.Context(), g.benchEnv(cmd), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&size, "size", "2GiB", "size of the warehouse to copy")
	f.StringSliceVar(&sizes, "sizes", nil, "several sizes to measure, ascending, e.g. 0.5,1,2 (GiB)")
	f.StringVar(&o.ToWarehouse, "to-warehouse", "", "where the copies go: s3://BUCKET/PREFIX or a directory (default: a temporary directory)")
	f.IntVar(&o.Workers, "workers", 8, "files copied at once, by rat migrate and by the plain copy")
	f.IntVar(&o.Reps, "reps", 1, "runs of each side per size (medians are printed)")
	f.IntVar(&o.Commits, "commits", 10_000, "commits in the catalog that is copied (0 skips the catalog copy)")
	f.StringVar(&o.Postgres, "postgres", "", "Postgres URL to copy the catalog into too (a scratch database is created and dropped)")
	f.StringVar(&o.Dir, "dir", "", "workspace directory to use (default: a new temporary directory, removed afterwards)")
	return cmd
}

// newBenchDuckDBOnlyCmd is the plain-DuckDB side of rat bench query's
// whole-process comparison (bench.DuckDBOnly).
func newBenchDuckDBOnlyCmd() *cobra.Command {
	var memoryMB, threads int
	cmd := &cobra.Command{
		Use:    `duckdb-only "SQL"`,
		Short:  "Run one query on DuckDB alone (the plain side of 'rat bench query')",
		Hidden: true,
		Args:   exactArgs(1, "one SQL statement in quotes"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.DuckDBOnly(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), memoryMB, threads, args[0])
		},
	}
	cmd.Flags().IntVar(&memoryMB, "memory-mb", 0, "DuckDB memory_limit in MB (0: DuckDB's default)")
	cmd.Flags().IntVar(&threads, "threads", 0, "DuckDB threads (0: DuckDB's default)")
	return cmd
}
