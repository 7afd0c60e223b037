package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/testenv"
)

// exportSource is the CSV the export tests load into bronze.t: integers,
// text with a comma, a quote and non-ASCII letters, decimals, timestamps,
// booleans and NULLs.
func exportSource(rows int) string {
	var b strings.Builder
	b.WriteString("id,name,amount,ts,ok\n")
	for i := 1; i <= rows; i++ {
		name := "name" + strconv.Itoa(i)
		switch i % 4 {
		case 1:
			name = `"a, ""quoted"" name ` + strconv.Itoa(i) + `"`
		case 2:
			name = "Zürich-" + strconv.Itoa(i)
		case 3:
			name = ""
		}
		amount := fmt.Sprintf("%d.%02d", i*7%1000, i%100)
		if i%10 == 0 {
			amount = ""
		}
		fmt.Fprintf(&b, "%d,%s,%s,2024-03-%02d %02d:%02d:00,%t\n", i, name, amount, 1+i%28, i%24, i%60, i%3 == 0)
	}
	return b.String()
}

// exportQueryText is the query the export tests export, and its typed
// projection, which reads the source CSV or an exported file back the same
// way (CSV and JSON carry no types).
const (
	exportQueryText = "SELECT id, name, amount, ts, ok FROM bronze.t WHERE id % 7 <> 0 ORDER BY id"
	exportTyped     = "SELECT id::BIGINT AS id, name::VARCHAR AS name, amount::DECIMAL(10,2) AS amount, ts::TIMESTAMP AS ts, ok::BOOLEAN AS ok FROM %s ORDER BY id"
)

// duckRows runs query on a fresh in-memory DuckDB and returns its rows,
// each value printed by Go.
func duckRows(t *testing.T, query string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals...))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// readBack is how DuckDB reads an exported file of format.
func readBack(path, format string) string {
	q := duckdb.Quote(path)
	switch format {
	case "parquet":
		return "read_parquet(" + q + ")"
	case "csv":
		return "read_csv(" + q + ", header = true, all_varchar = true)"
	case "json":
		return "read_json(" + q + ", format = 'array')"
	default:
		return "read_json(" + q + ", format = 'newline_delimited')"
	}
}

// expectedExport is what exportQueryText returns, computed by DuckDB from
// the source CSV without rat.
func expectedExport(t *testing.T, u *ratUser) []string {
	t.Helper()
	src := "(SELECT * FROM read_csv(" + duckdb.Quote(filepath.Join(u.dir, "t.csv")) + ", header = true, all_varchar = true) WHERE id::BIGINT % 7 <> 0)"
	want := duckRows(t, fmt.Sprintf(exportTyped, src))
	if len(want) == 0 {
		t.Fatal("the expected result is empty")
	}
	return want
}

// Every format round-trips: the file rat query --export (or -o) writes,
// read back by DuckDB, holds the query's rows; the summary names rows,
// format, bytes and destination; no temporary file stays behind.
func TestQueryExportFormatsRoundTrip(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("t.csv", exportSource(3000))
	u.ok("load", "t.csv", "--into", "bronze.t")
	want := expectedExport(t, u)
	out := filepath.Join(u.dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ file, flag, format string }{
		{"r.parquet", "--export", "parquet"},
		{"r.csv", "--export", "csv"},
		{"r.json", "--export", "json"},
		{"r.ndjson", "--export", "ndjson"},
		{"r.jsonl", "-o", "ndjson"},
		{"r.csv2", "--export", "csv"}, // --format wins over the extension
	}
	for _, c := range cases {
		dest := filepath.Join(out, c.file)
		args := []string{"query", exportQueryText, c.flag, dest}
		if filepath.Ext(c.file) == ".csv2" {
			args = append(args, "--format", "csv")
		}
		stdout, stderr, code := u.run(args...)
		if code != 0 || stdout != "" {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", c.file, code, stdout, stderr)
		}
		st, err := os.Stat(dest)
		if err != nil {
			t.Fatal(err)
		}
		summary := fmt.Sprintf("exported %d rows (%s, ", len(want), c.format)
		if !strings.Contains(stderr, summary) || !strings.Contains(stderr, dest) {
			t.Errorf("%s: summary %q, want %q… and the destination", c.file, stderr, summary)
		}
		if st.Size() == 0 {
			t.Fatalf("%s is empty", c.file)
		}
		got := duckRows(t, fmt.Sprintf(exportTyped, readBack(dest, c.format)))
		if !slices.Equal(got, want) {
			t.Fatalf("%s: read back %d rows, want %d; first differing:\n%s", c.file, len(got), len(want), firstDiff(got, want))
		}
	}
	var names []string
	for _, c := range cases {
		names = append(names, c.file)
	}
	slices.Sort(names)
	if got := dirNames(t, out); !slices.Equal(got, names) {
		t.Errorf("files in the output directory: %v, want %v", got, names)
	}
}

// firstDiff shows the first row where got and want differ.
func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("row %d: got  %q\n        want %q", i, g, w)
		}
	}
	return "(none)"
}

// Bad input is one clear error each, and writes nothing.
func TestQueryExportBadInput(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("t.csv", exportSource(5000))
	u.ok("load", "t.csv", "--into", "bronze.t")
	out := filepath.Join(u.dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(out, "r.parquet")
	for _, c := range []struct {
		want string
		args []string
	}{
		{"unknown scheme gs://", []string{"query", "SELECT 1", "--export", "gs://bucket/r.parquet"}},
		{"unknown scheme https://", []string{"query", "SELECT 1", "--export", "https://example.com/r.csv"}},
		{"want s3://bucket/path/file.parquet", []string{"query", "SELECT 1", "--export", "s3://bucket/"}},
		{"cannot tell the format", []string{"query", "SELECT 1", "--export", filepath.Join(out, "r.xlsx")}},
		{"not table", []string{"query", "SELECT 1", "--export", dest, "--format", "table"}},
		{"not both", []string{"query", "SELECT 1", "--export", dest, "-o", dest}},
		{"only SELECT statements", []string{"query", "DELETE FROM bronze.t", "--export", dest}},
		{"COPY does not run here: to rewrite a table", []string{"query", "COPY (SELECT 1) TO 'x.csv'", "--export", dest}},
		{"directory", []string{"query", "SELECT 1", "--export", filepath.Join(out, "missing", "r.csv")}},
		{"boom", []string{"query", "SELECT CASE WHEN id > 4000 THEN error('boom at ' || id) ELSE id END AS id FROM bronze.t", "--export", dest}},
		{"boom", []string{"query", "SELECT CASE WHEN id > 4000 THEN error('boom at ' || id) ELSE id END AS id FROM bronze.t", "--export", filepath.Join(out, "r.csv")}},
	} {
		u.fails(c.want, c.args...)
	}
	if names := dirNames(t, out); len(names) != 0 {
		t.Errorf("failed exports left files: %v", names)
	}
	if names := dirNames(t, filepath.Join(u.dir, ".rat", "tmp")); slices.Contains(names, "export") && len(dirNames(t, filepath.Join(u.dir, ".rat", "tmp", "export"))) != 0 {
		t.Errorf("failed exports left temporary files in .rat/tmp/export")
	}
	help := u.ok("query", "--help")
	for _, want := range []string{"--export s3://", "--export orders.parquet", "max_result_bytes", "Examples:"} {
		if !strings.Contains(help, want) {
			t.Errorf("rat query --help does not mention %q", want)
		}
	}
}

// rat query --export s3://… uploads the result to MinIO, read back and
// compared with the query; a missing bucket, missing credentials and a
// query failing half-way leave no object and no temporary file.
func TestQueryExportS3(t *testing.T) {
	t.Parallel()
	s3 := testenv.S3(t)
	s3Bucket(t, s3)
	u := newUser(t, false)
	u.env = append(u.env, "S3_ENDPOINT="+s3.Endpoint, "S3_REGION="+s3.Region, "S3_ACCESS_KEY="+s3.AccessKey, "S3_SECRET_KEY="+s3.SecretKey)
	u.write("t.csv", exportSource(5000))
	u.ok("load", "t.csv", "--into", "bronze.t")
	want := expectedExport(t, u)
	ctx := context.Background()
	store, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: s3.Endpoint, Region: s3.Region,
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	download := func(key string) string {
		t.Helper()
		f, err := store.Open(ctx, key)
		if err != nil {
			t.Fatalf("open %s: %v", key, err)
		}
		defer f.Close()
		p := filepath.Join(t.TempDir(), filepath.Base(key))
		w, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := io.Copy(w, f); err != nil {
			t.Fatal(err)
		}
		return p
	}
	absent := func(key string) {
		t.Helper()
		if _, err := store.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: want no object, got %v", key, err)
		}
	}
	for _, format := range []string{"parquet", "csv", "json", "ndjson"} {
		key := s3.Prefix + "exports/orders." + format
		_, stderr, code := u.run("query", exportQueryText, "--export", "s3://"+s3.Bucket+"/"+key)
		if code != 0 {
			t.Fatalf("export to S3 (%s): exit %d: %s", format, code, stderr)
		}
		if s := fmt.Sprintf("exported %d rows (%s, ", len(want), format); !strings.Contains(stderr, s) || !strings.Contains(stderr, "s3://"+s3.Bucket+"/"+key) {
			t.Errorf("summary %q, want %q… and the destination", stderr, s)
		}
		got := duckRows(t, fmt.Sprintf(exportTyped, readBack(download(key), format)))
		if !slices.Equal(got, want) {
			t.Fatalf("%s on S3: read back %d rows, want %d; first differing:\n%s", format, len(got), len(want), firstDiff(got, want))
		}
	}

	// A query failing half-way through uploads nothing.
	failKey := s3.Prefix + "exports/failed.parquet"
	u.fails("boom", "query", "SELECT CASE WHEN id > 4000 THEN error('boom at ' || id) ELSE id END AS id FROM bronze.t",
		"--export", "s3://"+s3.Bucket+"/"+failKey)
	absent(failKey)

	// A missing bucket is refused before the query runs.
	missing := "rat-missing-" + strings.TrimSuffix(strings.TrimPrefix(s3.Prefix, "t-"), "/")
	u.fails("does not exist", "query", exportQueryText, "--export", "s3://"+missing+"/r.parquet")
	ms, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: s3.Endpoint, Region: s3.Region,
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: missing})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.CheckBucket(ctx); err == nil {
		t.Errorf("bucket %s exists after a failed export", missing)
	}

	// No credentials: one error that says so, nothing written.
	noKeys := &ratUser{t: t, bin: u.bin, dir: u.dir}
	for _, kv := range u.env {
		if !strings.HasPrefix(kv, "S3_ACCESS_KEY=") && !strings.HasPrefix(kv, "S3_SECRET_KEY=") {
			noKeys.env = append(noKeys.env, kv)
		}
	}
	noKeys.env = append(noKeys.env, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "MINIO_ACCESS_KEY=", "MINIO_SECRET_KEY=",
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(u.dir, "no-credentials"))
	noKey := s3.Prefix + "exports/nokeys.parquet"
	noKeys.fails("no S3 credentials", "query", exportQueryText, "--export", "s3://"+s3.Bucket+"/"+noKey)
	absent(noKey)

	if names := dirNames(t, filepath.Join(u.dir, ".rat", "tmp", "export")); len(names) != 0 {
		t.Errorf("temporary files left in .rat/tmp/export: %v", names)
	}
}

// On a terminal, an export shows its progress (bytes written) on stderr
// before the summary; with stderr not a terminal (the tests above) there
// is none.
func TestQueryExportProgressOnTerminal(t *testing.T) {
	t.Parallel()
	script := testenv.Tool(t, "script") // util-linux: runs a command on a pseudo-terminal
	u := newUser(t, false)
	u.write("t.csv", exportSource(2000))
	u.ok("load", "t.csv", "--into", "bronze.t")
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	line := strings.Join([]string{quote(u.bin), "query", quote(exportQueryText), "--export", "r.parquet"}, " ")
	c := exec.Command(script, "-qefc", line, "/dev/null")
	c.Dir = u.dir
	c.Env = append(u.env, "RAT_PROFILE=tiny")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	text := string(out)
	progress, summary := strings.Index(text, "\rexport: "), strings.Index(text, "exported ")
	if progress < 0 || summary < progress || !strings.Contains(text[progress:summary], " written in ") {
		t.Fatalf("terminal output has no progress line before the summary: %q", text)
	}
	if _, stderr, _ := u.run("query", exportQueryText, "--export", "r2.parquet"); strings.Contains(stderr, "\r") {
		t.Errorf("progress shown when stderr is not a terminal: %q", stderr)
	}
}
