package cli

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/sqlite"
	"github.com/ratdata/rat/internal/testenv"
)

// migrateReport is what rat migrate --json prints (the parts tests read).
type migrateReport struct {
	Verified bool `json:"verified"`
	Files    struct {
		Files, Copied, Skipped int64
	} `json:"files"`
	Catalog struct {
		Commits int64 `json:"commits"`
	} `json:"catalog"`
	Landing struct {
		Files, Copied int64
	} `json:"landing"`
	Refs []struct {
		Ref    string `json:"ref"`
		OK     bool   `json:"ok"`
		Tables []struct {
			Table       string `json:"table"`
			Rows        int64  `json:"rows"`
			Checksum    string `json:"checksum"`
			RowChecksum string `json:"row_checksum"`
		} `json:"tables"`
	} `json:"refs"`
	Env map[string]string `json:"env"`
}

// s3Bucket makes sure the test bucket exists.
func s3Bucket(t *testing.T, env testenv.S3Env) {
	t.Helper()
	s, err := objstore.NewS3(context.Background(), objstore.S3Config{Endpoint: env.Endpoint, Region: env.Region,
		AccessKey: env.AccessKey, SecretKey: env.SecretKey, Bucket: env.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// treeSums hashes every file under dir.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[p] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rebase replaces the target's warehouse root with the source's in
// outputs: rat describe --json prints data file locations, which name the
// target's root after the migration rewrote the metadata.
func rebase(out map[string]string, target, source string) map[string]string {
	m := make(map[string]string, len(out))
	for k, v := range out {
		m[k] = strings.ReplaceAll(v, target+"/", source+"/")
	}
	return m
}

// awaySource runs fn with the source's state directory moved away, so
// that nothing can be read from it.
func awaySource(t *testing.T, u *ratUser, fn func()) {
	t.Helper()
	state, away := filepath.Join(u.dir, ".rat"), filepath.Join(u.dir, "..", "source-state")
	if err := os.Rename(state, away); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.RemoveAll(state); err != nil {
			t.Error(err)
		}
		if err := os.Rename(away, state); err != nil {
			t.Fatal(err)
		}
	}()
	fn()
}

// TestMigrateToPostgresAndMinIO: a workspace with history (runs, a failed
// one, a tag, a branch, a merge, a view) migrated from SQLite + a local
// warehouse to Postgres + MinIO answers the fixed list of queries with the
// same bytes, with the source out of reach; a new load and run work on the
// target; the environment file names the new setup without secrets.
func TestMigrateToPostgresAndMinIO(t *testing.T) {
	pg := testenv.Postgres(t)
	s3 := testenv.S3(t)
	s3Bucket(t, s3)
	u, first := portableWorkspace(t)
	queries := portableQueries(first)
	before := outputs(u, queries)
	sourceFiles := treeSums(t, filepath.Join(u.dir, ".rat", "warehouse"))
	landing := u.landingList()
	landed := int64(len(treeSums(t, filepath.Join(u.dir, "landing"))))

	warehouse := "s3://" + s3.Bucket + "/" + s3.Prefix
	envFile := filepath.Join(t.TempDir(), "new.env")
	mu := migrateKeys(u, s3.AccessKey, s3.SecretKey)
	args := []string{"migrate", "--to-catalog", pg, "--to-warehouse", warehouse, "--to-s3-endpoint", s3.Endpoint,
		"--to-s3-region", s3.Region, "--to-s3-path-style", "path", "--env-out", envFile}
	dry := mu.ok(append(args, "--dry-run")...)
	if !strings.Contains(dry, "to copy") || !strings.Contains(dry, "estimate") {
		t.Fatalf("dry run:\n%s", dry)
	}
	if _, err := os.Stat(envFile); err == nil {
		t.Fatal("a dry run wrote the environment file")
	}
	out, errs, code := mu.run(append(args, "--json")...)
	if code != 0 {
		t.Fatalf("rat migrate: exit %d\n%s\n%s", code, out, errs)
	}
	var rep migrateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rep.Verified || rep.Files.Copied == 0 || rep.Catalog.Commits < 5 || len(rep.Refs) < 3 {
		t.Fatalf("report: %+v", rep)
	}
	if landed == 0 || rep.Landing.Files != landed || rep.Landing.Copied != landed {
		t.Fatalf("the workspace's landing/ holds %d files; the migration copied %+v", landed, rep.Landing)
	}
	for _, r := range rep.Refs {
		if !r.OK || len(r.Tables) == 0 {
			t.Errorf("ref %s: %+v", r.Ref, r)
		}
	}
	for _, s := range []string{out, errs} {
		if strings.Contains(s, s3.SecretKey) {
			t.Fatal("rat migrate printed the S3 secret key")
		}
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ICEBERG_WAREHOUSE=" + warehouse, "S3_ENDPOINT=" + s3.Endpoint, "S3_REGION=" + s3.Region,
		"S3_PATH_STYLE=path", "RAT_CATALOG_URL=", "# S3_ACCESS_KEY and S3_SECRET_KEY"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("the environment file lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(string(env), s3.SecretKey) {
		t.Fatal("the environment file holds the secret key")
	}

	// The target, with the source out of reach, answers as the source did.
	target := &ratUser{t: t, bin: u.bin, dir: u.dir, env: append(append([]string{}, u.env...),
		"RAT_CATALOG_URL="+pg, "ICEBERG_WAREHOUSE="+warehouse, "S3_ENDPOINT="+s3.Endpoint,
		"S3_ACCESS_KEY="+s3.AccessKey, "S3_SECRET_KEY="+s3.SecretKey, "S3_REGION="+s3.Region, "S3_PATH_STYLE=path")}
	awaySource(t, u, func() {
		sameOutputs(t, "the target", before, rebase(outputs(target, queries),
			strings.TrimSuffix(warehouse, "/"), "file://"+filepath.Join(u.dir, ".rat", "warehouse")))
		// The landing files are in the target's landing area on S3, in the
		// same state (consumed or not) as at the source.
		if got, want := fmt.Sprintf("%+v", target.landingList()), fmt.Sprintf("%+v", landing); got != want {
			t.Errorf("landing zones at the target:\n%s\nat the source:\n%s", got, want)
		}
		// Writes and runs work on the target.
		n := target.count("bronze.extra")
		target.ok("load", "extra.csv", "--into", "bronze.extra")
		if got := target.count("bronze.extra"); got == n {
			t.Errorf("a load on the target added nothing: %s rows", got)
		}
		target.ok("run", "silver.orders+")

		// Postgres → another Postgres database, bucket prefix → another prefix.
		now := outputs(target, queries)
		pg2, s3b := testenv.Postgres(t), testenv.S3(t)
		warehouse2 := "s3://" + s3b.Bucket + "/" + s3b.Prefix
		target.ok("migrate", "--to-catalog", pg2, "--to-warehouse", warehouse2)
		second := &ratUser{t: t, bin: u.bin, dir: u.dir, env: append(append([]string{}, target.env...),
			"RAT_CATALOG_URL="+pg2, "ICEBERG_WAREHOUSE="+warehouse2)}
		sameOutputs(t, "another database and prefix", rebase(now, strings.TrimSuffix(warehouse, "/"), strings.TrimSuffix(warehouse2, "/")),
			outputs(second, queries))

		// And back from the cluster to a laptop: Postgres + MinIO → SQLite + a directory.
		back := t.TempDir()
		target.ok("migrate", "--to-catalog", "sqlite:"+filepath.Join(back, "catalog.db"), "--to-warehouse", filepath.Join(back, "warehouse"))
		laptop := &ratUser{t: t, bin: u.bin, dir: u.dir, env: append(append([]string{}, u.env...),
			"RAT_CATALOG_URL="+filepath.Join(back, "catalog.db"), "ICEBERG_WAREHOUSE="+filepath.Join(back, "warehouse"))}
		sameOutputs(t, "back on a laptop", rebase(now, strings.TrimSuffix(warehouse, "/"), "file://"+filepath.Join(back, "warehouse")),
			outputs(laptop, queries))
	})
	// The source is untouched.
	after := treeSums(t, filepath.Join(u.dir, ".rat", "warehouse"))
	if len(after) != len(sourceFiles) {
		t.Errorf("the source warehouse went from %d to %d files", len(sourceFiles), len(after))
	}
	for p, s := range sourceFiles {
		if after[p] != s {
			t.Errorf("the source's %s changed", p)
		}
	}
	sameOutputs(t, "the source after the migration", before, outputs(u, queries))
}

// TestMigrateKilled: rat migrate killed with SIGKILL at 20 random points,
// 12 in the files phase and 8 in the catalog copy, and run again each
// time, ends verified, with the source unchanged.
func TestMigrateKilled(t *testing.T) {
	u, first := portableWorkspace(t)
	queries := portableQueries(first)
	before := outputs(u, queries)
	sourceFiles := treeSums(t, filepath.Join(u.dir, ".rat", "warehouse"))
	dir := t.TempDir()
	args := []string{"migrate", "--to-catalog", "sqlite:" + filepath.Join(dir, "catalog.db"),
		"--to-warehouse", "file://" + filepath.Join(dir, "warehouse"), "--workers", "1"}
	killMigrations(t, u, args, 12, 8, localStage(t, filepath.Join(dir, "warehouse"), filepath.Join(dir, "catalog.db")))
	out := u.ok(append(args, "--json")...)
	var rep migrateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rep.Verified {
		t.Fatalf("not verified after the kills:\n%s", out)
	}
	// The fast verification names each table's content by its files'
	// checksums and reads no row; --verify deep reads every row too.
	checksums := func(rep migrateReport) (files, rows int) {
		for _, r := range rep.Refs {
			for _, tc := range r.Tables {
				if len(tc.Checksum) == 64 {
					files++
				}
				if tc.RowChecksum != "" {
					rows++
				}
			}
		}
		return files, rows
	}
	if files, rows := checksums(rep); files == 0 || rows != 0 {
		t.Fatalf("fast verification: %d file checksums, %d row checksums:\n%s", files, rows, out)
	}
	deep := u.ok(append(args, "--json", "--verify", "deep")...)
	var deepRep migrateReport
	if err := json.Unmarshal([]byte(deep), &deepRep); err != nil || !deepRep.Verified {
		t.Fatalf("deep verification: %v\n%s", err, deep)
	}
	if files, rows := checksums(deepRep); rows == 0 || rows != files {
		t.Fatalf("deep verification: %d file checksums, %d row checksums:\n%s", files, rows, deep)
	}
	u.fails(`--verify "thorough": want fast`, append(args, "--verify", "thorough")...)
	after := treeSums(t, filepath.Join(u.dir, ".rat", "warehouse"))
	for p, s := range sourceFiles {
		if after[p] != s {
			t.Errorf("the source's %s changed", p)
		}
	}
	if len(after) != len(sourceFiles) {
		t.Errorf("the source warehouse went from %d to %d files", len(sourceFiles), len(after))
	}
	target := &ratUser{t: t, bin: u.bin, dir: u.dir, env: append(append([]string{}, u.env...),
		"RAT_CATALOG_URL="+filepath.Join(dir, "catalog.db"), "ICEBERG_WAREHOUSE="+filepath.Join(dir, "warehouse"))}
	awaySource(t, u, func() {
		sameOutputs(t, "the target after kills", before, rebase(outputs(target, queries),
			"file://"+filepath.Join(dir, "warehouse"), "file://"+filepath.Join(u.dir, ".rat", "warehouse")))
		// Outside readers: iceberg-go's own IO and scan read every table of
		// main from the target's files, which name no source location.
		outsideRead(t, filepath.Join(dir, "catalog.db"), filepath.Join(dir, "warehouse"), func(id string) string { return target.count(id) })
	})
	source := "file://" + filepath.Join(u.dir, ".rat", "warehouse")
	for p := range treeSums(t, filepath.Join(dir, "warehouse")) {
		if strings.HasSuffix(p, ".metadata.json") || strings.HasSuffix(p, ".avro") {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), source) {
				t.Errorf("%s still names the source %s", p, source)
			}
		}
	}

	// A target that diverged (a commit there) is refused by a rerun, which
	// would catch up with the source: exit status 3, the tables named.
	target.ok("load", "extra.csv", "--into", "bronze.extra")
	_, errs, code := u.run(args...)
	if code != 3 || !strings.Contains(errs, "was written to since the source was copied into it") || !strings.Contains(errs, "commits") {
		t.Fatalf("rerun after the target diverged: exit %d\n%s", code, errs)
	}
}

// killPlan is what a dry run of a migration of u's workspace counts: the
// bytes of the files phase and the batches of the catalog copy (one per
// table and one more per full batch of 1,000 rows).
func killPlan(t *testing.T, u *ratUser) (bytes, batches int64) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"migrate", "--to-warehouse", filepath.Join(dir, "w"), "--to-catalog", "sqlite:" + filepath.Join(dir, "c.db")}
	local := *u // the target is local: no S3 keys for it
	local.env = slices.DeleteFunc(slices.Clone(u.env), func(kv string) bool { return strings.HasPrefix(kv, "RAT_MIGRATE_S3_") })
	u = &local
	var plan struct {
		Files   struct{ Bytes int64 }
		Catalog struct{ Tables map[string]int64 }
	}
	out := u.ok(append(args, "--dry-run", "--json")...)
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, rows := range plan.Catalog.Tables {
		batches += rows/1000 + 1
	}
	return plan.Files.Bytes, batches
}

// killMigrations runs rat migrate (or export, import: args) files+catalog times, killed by SIGKILL
// (app.KillEnv) at seeded random points: the first files runs each once a
// random number of bytes went to the target warehouse (together at most
// half of the files phase, so that each one dies in it), the next catalog
// runs each after one of catalog distinct batches of the copy, chosen at
// random. After each kill the target must show the phase it
// died in: no finished files pass in rat-migrate.json after a files kill;
// a finished one, and an unfinished catalog copy (stage reads it), after
// a catalog kill. The seed is logged; RAT_TEST_SEED replays it.
func killMigrations(t *testing.T, u *ratUser, args []string, files, catalog int, stage func() (filesDone, catalogDone bool)) {
	t.Helper()
	seed := rand.Uint64()
	if s := os.Getenv("RAT_TEST_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("RAT_TEST_SEED=%s: %v", s, err)
		}
	}
	t.Logf("kill points seeded with %d (RAT_TEST_SEED=%d replays them)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	bytes, batches := killPlan(t, u)
	if batches < int64(catalog) {
		t.Fatalf("the catalog copy has %d batches, fewer than the %d kill points", batches, catalog)
	}
	// The catalog kills fall after catalog distinct batches of the copy,
	// chosen at random; each run commits the batches up to its point.
	after := rng.Perm(int(batches))[:catalog]
	slices.Sort(after)
	done := -1 // the batches committed, less one
	for i := range files + catalog {
		point := ""
		if i < files {
			point = fmt.Sprintf("files:%d", 1+rng.Int64N(max(bytes/int64(2*files), 1)))
		} else {
			point = fmt.Sprintf("catalog:%d", after[i-files]-done)
			done = after[i-files]
		}
		c := u.cmd(args...)
		c.Env = append(c.Env, "RAT_TEST_MIGRATE_KILL="+point)
		out, err := c.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Exited() {
			t.Fatalf("kill %d at %s (seed %d): rat %s was not killed (%v)\n%s", i, point, seed, args[0], err, out)
		}
		filesDone, catalogDone := stage()
		if want := i >= files; filesDone != want || catalogDone {
			t.Fatalf("kill %d at %s (seed %d): afterwards the files phase is finished: %v, the catalog copy: %v", i, point, seed, filesDone, catalogDone)
		}
		t.Logf("kill %d at %s", i, point)
	}
}

// localStage reads where a migration into a local warehouse and a SQLite
// catalog stands: whether rat-migrate.json records a finished files pass,
// and whether the catalog copy is finished.
func localStage(t *testing.T, warehouse, catalogPath string) func() (bool, bool) {
	return func() (bool, bool) {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(warehouse, "rat-migrate.json"))
		if err != nil {
			t.Fatal(err)
		}
		return filesPassed(t, data), copyFinished(t, sqlite.DSN(catalogPath))
	}
}

// filesPassed reports whether a migration's marker (rat-migrate.json)
// records a finished files pass.
func filesPassed(t *testing.T, marker []byte) bool {
	t.Helper()
	var m struct {
		FilesPass time.Time `json:"files_pass"` // zero until a pass finished
	}
	if err := json.Unmarshal(marker, &m); err != nil {
		t.Fatalf("the target's rat-migrate.json: %v\n%s", err, marker)
	}
	return !m.FilesPass.IsZero()
}

// copyFinished reports whether the catalog at dsn (SQLite or Postgres)
// records a finished copy: none when the copy has not started.
func copyFinished(t *testing.T, dsn string) bool {
	t.Helper()
	driver := "sqlite"
	if strings.HasPrefix(dsn, "postgres") {
		driver = "pgx"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var done int
	err = db.QueryRow(`SELECT done FROM copy_progress WHERE table_name = ''`).Scan(&done)
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !strings.Contains(err.Error(), "copy_progress") {
		t.Fatal(err)
	}
	return done == 1
}

// TestMigrateKilledToPostgresAndMinIO: SIGKILL at 10 random points of a
// migration to Postgres + MinIO (files and catalog phases), then a rerun:
// verified, the source unchanged, the same outputs.
func TestMigrateKilledToPostgresAndMinIO(t *testing.T) {
	pg := testenv.Postgres(t)
	s3 := testenv.S3(t)
	s3Bucket(t, s3)
	u, first := portableWorkspace(t)
	queries := portableQueries(first)
	before := outputs(u, queries)
	sourceFiles := treeSums(t, filepath.Join(u.dir, ".rat", "warehouse"))
	warehouse := "s3://" + s3.Bucket + "/" + s3.Prefix
	mu := migrateKeys(u, s3.AccessKey, s3.SecretKey)
	args := []string{"migrate", "--to-catalog", pg, "--to-warehouse", warehouse, "--to-s3-endpoint", s3.Endpoint,
		"--to-s3-region", s3.Region, "--workers", "1"}
	wh, err := objstore.NewS3(t.Context(), objstore.S3Config{Endpoint: s3.Endpoint, Region: s3.Region,
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket, Prefix: s3.Prefix})
	if err != nil {
		t.Fatal(err)
	}
	killMigrations(t, mu, args, 6, 4, func() (bool, bool) {
		t.Helper()
		f, err := wh.Open(t.Context(), "rat-migrate.json")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		data, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		return filesPassed(t, data), copyFinished(t, pg)
	})
	var rep migrateReport
	if out := mu.ok(append(args, "--json")...); json.Unmarshal([]byte(out), &rep) != nil || !rep.Verified {
		t.Fatalf("not verified after the kills:\n%s", out)
	}
	after := treeSums(t, filepath.Join(u.dir, ".rat", "warehouse"))
	if len(after) != len(sourceFiles) {
		t.Errorf("the source warehouse went from %d to %d files", len(sourceFiles), len(after))
	}
	for p, s := range sourceFiles {
		if after[p] != s {
			t.Errorf("the source's %s changed", p)
		}
	}
	target := &ratUser{t: t, bin: u.bin, dir: u.dir, env: append(append([]string{}, u.env...),
		"RAT_CATALOG_URL="+pg, "ICEBERG_WAREHOUSE="+warehouse, "S3_ENDPOINT="+s3.Endpoint,
		"S3_ACCESS_KEY="+s3.AccessKey, "S3_SECRET_KEY="+s3.SecretKey, "S3_REGION="+s3.Region)}
	awaySource(t, u, func() {
		sameOutputs(t, "the target after kills", before, rebase(outputs(target, queries),
			strings.TrimSuffix(warehouse, "/"), "file://"+filepath.Join(u.dir, ".rat", "warehouse")))
	})
}

// outsideRead reads every table of main in a migrated catalog with
// iceberg-go alone, from its metadata at the target warehouse, and compares
// the row counts with rat's (count).
func outsideRead(t *testing.T, catalogPath, warehouse string, count func(id string) string) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, catalogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	entries, err := store.Tables(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, e := range entries {
		if catalog.IsView(e.Metadata) {
			continue
		}
		loc := "file://" + filepath.Join(warehouse, e.Metadata)
		tbl, err := table.NewFromLocation(ctx, table.Identifier{e.Table.Layer, e.Table.Name}, loc, icebergio.LoadFSFunc(nil, loc), nil)
		if err != nil {
			t.Fatalf("iceberg-go opens %s: %v", loc, err)
		}
		arrow, err := tbl.Scan().ToArrowTable(ctx)
		if err != nil {
			t.Fatalf("iceberg-go scans %s: %v", e.Table, err)
		}
		n := arrow.NumRows()
		arrow.Release()
		if want := count(e.Table.String()); fmt.Sprint(n) != want {
			t.Errorf("iceberg-go reads %d rows of %s at the target, rat %s", n, e.Table, want)
		}
		read++
	}
	if read < 3 {
		t.Fatalf("read %d tables with iceberg-go, want 3 or more", read)
	}
}

// TestMigrateBadInput: each bad target is one clear error, and nothing is
// written at a refused target.
func TestMigrateBadInput(t *testing.T) {
	u := newUser(t, false)
	u.ok("init", "ws", "--demo")
	u.dir = filepath.Join(u.dir, "ws")
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "notes.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	u.fails("give --to-catalog URL, --to-warehouse URL or both", "migrate")
	u.fails("is the source warehouse", "migrate", "--to-warehouse", ".rat/warehouse")
	u.fails("lies inside the source warehouse", "migrate", "--to-warehouse", ".rat/warehouse/x")
	u.fails("is the source catalog", "migrate", "--to-catalog", "sqlite:.rat/catalog.db")
	u.fails("is not empty (1 objects, such as notes.txt)", "migrate", "--to-warehouse", full)
	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Fatalf("the refused target holds %d entries, want its 1 file", len(entries))
	}
	u.fails(`unknown scheme "ftp"`, "migrate", "--to-warehouse", "ftp://host/x")
	u.fails(`unknown scheme "mysql"`, "migrate", "--to-catalog", "mysql://host/x")
	u.fails("S3 settings for the target were given", "migrate", "--to-warehouse", full+"2", "--to-s3-region", "eu-west-1")
	u.fails("open catalog", "migrate", "--to-catalog", "postgres://rat@127.0.0.1:1/rat")
	halfKeys := *u
	halfKeys.env = append(append([]string{}, u.env...), "RAT_MIGRATE_S3_ACCESS_KEY=x")
	halfKeys.fails("set both RAT_MIGRATE_S3_ACCESS_KEY and RAT_MIGRATE_S3_SECRET_KEY", "migrate", "--to-warehouse", "s3://bucket/p")
	someKeys := migrateKeys(u, "k", "s")
	someKeys.fails("cannot reach", "migrate", "--to-warehouse", "s3://bucket/p", "--to-s3-endpoint", "http://127.0.0.1:1")

	s3 := testenv.S3(t)
	s3Bucket(t, s3)
	keys := migrateKeys(u, s3.AccessKey, s3.SecretKey)
	target := "s3://" + s3.Bucket + "/" + s3.Prefix
	keys.fails("does not exist", "migrate", "--to-warehouse", "s3://no-such-bucket-"+strings.TrimSuffix(s3.Prefix, "/"), "--to-s3-endpoint", s3.Endpoint)
	wrong := migrateKeys(u, s3.AccessKey, "wrong-"+s3.SecretKey)
	line := wrong.fails("rejected the credentials", "migrate", "--to-warehouse", target, "--to-s3-endpoint", s3.Endpoint)
	if strings.Contains(line, s3.SecretKey) {
		t.Fatal("the error shows the secret key")
	}
	// The keys come from RAT_MIGRATE_S3_*: the same command with the right
	// ones works.
	keys.ok("migrate", "--to-warehouse", target, "--to-s3-endpoint", s3.Endpoint)
}

// TestMigrateCatchUp: the documented short-downtime sequence: a first
// pass with the files and the catalog while the source is in use, a load
// and a run at the source, then the final pass with --catch-up: the new
// files are copied, the old ones skipped unread, the catalog caught up and
// verified, and the target holds the new data and the new run's record and
// logs. A target written to since is refused.
func TestMigrateCatchUp(t *testing.T) {
	u := newUser(t, false)
	u.ok("init", "ws", "--demo")
	u.dir = filepath.Join(u.dir, "ws")
	u.ok("run")
	dir := t.TempDir()
	wh, cat := filepath.Join(dir, "warehouse"), filepath.Join(dir, "catalog.db")
	u.ok("migrate", "--to-warehouse", wh, "--to-catalog", cat)
	u.write("extra.csv", "id,note\n1,a\n2,b\n")
	u.ok("load", "extra.csv", "--into", "bronze.extra")
	u.ok("run")
	var runs []struct{ ID string }
	sourceRuns := u.ok("runs", "list", "--json")
	if err := json.Unmarshal([]byte(sourceRuns), &runs); err != nil || len(runs) < 2 {
		t.Fatalf("runs list: %v\n%s", err, sourceRuns)
	}
	sourceLogs := u.ok("runs", "logs", runs[0].ID)
	out := u.ok("migrate", "--to-warehouse", wh, "--to-catalog", cat, "--catch-up", "--json")
	var rep struct {
		Verified bool
		Files    struct{ Copied, Trusted int64 }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rep.Verified || rep.Files.Copied == 0 || rep.Files.Trusted == 0 {
		t.Fatalf("catch-up: %s", out)
	}
	target := &ratUser{t: t, bin: u.bin, dir: u.dir, env: append(append([]string{}, u.env...),
		"RAT_CATALOG_URL="+cat, "ICEBERG_WAREHOUSE="+wh)}
	awaySource(t, u, func() {
		if n := target.count("bronze.extra"); n != "2" {
			t.Fatalf("bronze.extra at the target: %s rows, want 2", n)
		}
		if got := target.ok("runs", "list", "--json"); got != sourceRuns {
			t.Fatalf("runs at the target:\n%s\nat the source:\n%s", got, sourceRuns)
		}
		if got := target.ok("runs", "logs", runs[0].ID); got != sourceLogs || got == "" {
			t.Fatalf("the new run's logs at the target:\n%s\nat the source:\n%s", got, sourceLogs)
		}
	})
	// Once the target is in use, a catch-up would mix two histories: it is
	// refused before anything is copied.
	target.ok("load", "extra.csv", "--into", "bronze.other")
	u.ok("load", "extra.csv", "--into", "bronze.late")
	files := treeSums(t, wh)
	_, errs, code := u.run("migrate", "--to-warehouse", wh, "--to-catalog", cat, "--catch-up")
	if code != 3 || !strings.Contains(errs, "was written to since the source was copied into it") {
		t.Fatalf("catch-up into a target in use: exit %d\n%s", code, errs)
	}
	if after := treeSums(t, wh); len(after) != len(files) {
		t.Fatalf("a refused catch-up wrote files: %d before, %d after", len(files), len(after))
	}
}

// migrateKeys is u with the target's S3 keys in RAT_MIGRATE_S3_*.
func migrateKeys(u *ratUser, access, secret string) *ratUser {
	m := *u
	m.env = append(append([]string{}, u.env...), "RAT_MIGRATE_S3_ACCESS_KEY="+access, "RAT_MIGRATE_S3_SECRET_KEY="+secret)
	return &m
}
