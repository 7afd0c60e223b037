package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// TestMigrateKilled: rat migrate killed with SIGKILL at random moments, then
// run again each time, ends verified, with the source unchanged.
func TestMigrateKilled(t *testing.T) {
	u, first := portableWorkspace(t)
	queries := portableQueries(first)
	before := outputs(u, queries)
	sourceFiles := treeSums(t, filepath.Join(u.dir, ".rat", "warehouse"))
	dir := t.TempDir()
	args := []string{"migrate", "--to-catalog", "sqlite:" + filepath.Join(dir, "catalog.db"),
		"--to-warehouse", "file://" + filepath.Join(dir, "warehouse"), "--workers", "1"}
	killMigrations(t, u, args, 6, 700*time.Millisecond)
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

// killMigrations starts rat migrate n times and kills each with SIGKILL
// after a random delay up to most (a run that ends before is logged).
func killMigrations(t *testing.T, u *ratUser, args []string, n int, most time.Duration) {
	t.Helper()
	interrupted := 0
	for i := range n {
		c := u.cmd(args...)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		delay := time.Duration(rand.Int64N(int64(most)))
		select {
		case err := <-done:
			t.Logf("kill %d: rat migrate ended by itself before %v (%v)", i, delay, err)
			continue
		case <-time.After(delay):
		}
		if err := c.Process.Signal(syscall.SIGKILL); err != nil {
			t.Logf("kill %d after %v: %v", i, delay, err)
		}
		if err := <-done; err != nil {
			interrupted++
		}
	}
	t.Logf("%d of %d runs were killed midway", interrupted, n)
}

// TestMigrateKilledToPostgresAndMinIO: SIGKILL at random moments of a
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
	killMigrations(t, mu, args, 8, 1500*time.Millisecond)
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
