package cli

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratdata/rat"
	ratapp "github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/textout"
)

// exportDest is where rat query writes a result file: a local path or an
// object in an S3 bucket.
type exportDest struct {
	raw         string // as given, for messages
	path        string // local: the absolute path
	bucket, key string // S3
}

// urlScheme matches the scheme of a URL ("s3://", "gs://", "https://").
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// parseExportDest reads DEST: s3://bucket/key (or s3a://), else a local
// path; any other URL scheme is refused.
func parseExportDest(dest string) (exportDest, error) {
	d := exportDest{raw: dest}
	m := urlScheme.FindStringSubmatch(dest)
	if m == nil {
		abs, err := filepath.Abs(dest)
		if err != nil {
			return d, err
		}
		d.path = abs
		return d, nil
	}
	switch strings.ToLower(m[1]) {
	case "s3", "s3a":
	default:
		return d, rat.Errorf(rat.EINVALID, "export destination %s: unknown scheme %s://: give a local path or s3://bucket/path/file.parquet", dest, m[1])
	}
	rest := dest[len(m[0]):]
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" || key == "" || strings.HasSuffix(key, "/") {
		return d, rat.Errorf(rat.EINVALID, "export destination %s: want s3://bucket/path/file.parquet (a bucket and an object name)", dest)
	}
	if err := objstore.ValidateKey(key); err != nil {
		return d, rat.Errorf(rat.EINVALID, "export destination %s: %s", dest, rat.ErrorMessage(err))
	}
	d.bucket, d.key = bucket, key
	return d, nil
}

// extFormat is the format a file name's extension names, or "".
func extFormat(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return "csv"
	case ".json":
		return "json"
	case ".ndjson", ".jsonl":
		return "ndjson"
	case ".parquet":
		return "parquet"
	}
	return ""
}

// exportQuery writes the result of a query to dest in format (parquet,
// csv, json or ndjson) through DuckDB's COPY: to a hidden temporary file
// beside a local destination, renamed onto it when complete; for S3, to a
// temporary file in the workspace's tmp directory (.rat/tmp/export), then
// streamed to the bucket in one upload that the service completes
// atomically. A failure leaves the destination as it was. On a terminal,
// stderr shows the bytes written and uploaded; the summary line follows.
func exportQuery(ctx context.Context, a *app, stderr io.Writer, when lake.At, sqlText, dest, format string) error {
	d, err := parseExportDest(dest)
	if err != nil {
		return err
	}
	var bucket *objstore.S3
	var tmp string
	var local *outFile
	if d.bucket != "" {
		if bucket, err = ratapp.OpenBucket(ctx, a.Config, d.bucket); err != nil {
			return credentialsHint(err, a, d)
		}
		dir := filepath.Join(a.TmpDir(), "export")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("export to %s: %w", dest, err)
		}
		tmp = tempName(filepath.Join(dir, filepath.Base(d.key)))
		defer os.Remove(tmp)
	} else {
		if local, err = reserveOutput(d.path); err != nil {
			return err
		}
		defer local.Abort()
		tmp = local.tmp
	}
	start := time.Now()
	prog := newExportProgress(stderr)
	stop := prog.watchFile(tmp)
	var rows int64
	err = a.Lake.WithTables(ctx, a.Config.Branch, when, sqlText, func(conn *sql.Conn, query string) error {
		var err error
		rows, err = duckdb.Export(ctx, conn, query, tmp, duckdb.ExportOptions{Format: format, Compression: "zstd"})
		if err != nil {
			return duckdb.UserError("query", err)
		}
		return nil
	})
	stop()
	if err != nil {
		return err
	}
	st, err := os.Stat(tmp)
	if err != nil {
		return fmt.Errorf("export to %s: %w", dest, err)
	}
	if bucket != nil {
		f, err := os.Open(tmp)
		if err != nil {
			return fmt.Errorf("export to %s: %w", dest, err)
		}
		defer f.Close()
		stop := prog.watchUpload(st.Size())
		err = bucket.Put(ctx, d.key, prog.counting(f), st.Size())
		stop()
		if err != nil {
			return credentialsHint(err, a, d)
		}
	} else if err := local.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %s (%s, %s) to %s in %s\n", textout.Plural(rows, "row"), format,
		textout.Bytes(st.Size()), dest, rat.Duration(time.Since(start)))
	return nil
}

// credentialsHint says so when S3 refused an export and no S3 keys are
// configured at all (the client then tried the environment's and found
// none, or the instance role's, which the bucket refused).
func credentialsHint(err error, a *app, d exportDest) error {
	if rat.IsCode(err, rat.EUNAUTHORIZED) && a.Config.S3.AccessKey == "" {
		return rat.Errorf(rat.EUNAUTHORIZED, "export to %s: no S3 credentials are configured and the bucket refused the request: set S3_ACCESS_KEY and S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), and S3_ENDPOINT for a service other than AWS", d.raw)
	}
	return err
}

// exportProgress shows an export's progress on a terminal: bytes written
// while DuckDB writes the file, then bytes uploaded. Its methods do
// nothing when w is not a terminal.
type exportProgress struct {
	w    io.Writer // nil: no progress
	sent atomic.Int64
}

func newExportProgress(w io.Writer) *exportProgress {
	if st, err := os.Stderr.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && w == io.Writer(os.Stderr) {
		return &exportProgress{w: w}
	}
	return &exportProgress{}
}

// every shows line at once and then each half second until the returned
// stop is called, and clears it then.
func (p *exportProgress) every(line func() string) (stop func()) {
	if p.w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		fmt.Fprintf(p.w, "\r%-72s", line())
		for {
			select {
			case <-done:
				fmt.Fprintf(p.w, "\r%-72s\r", "")
				return
			case <-t.C:
				fmt.Fprintf(p.w, "\r%-72s", line())
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// watchFile shows the size of the file DuckDB is writing.
func (p *exportProgress) watchFile(path string) (stop func()) {
	start := time.Now()
	return p.every(func() string {
		var n int64
		if st, err := os.Stat(path); err == nil {
			n = st.Size()
		}
		return fmt.Sprintf("export: %s written in %s", textout.Bytes(n), rat.Duration(time.Since(start)))
	})
}

// watchUpload shows the bytes counting has read of total.
func (p *exportProgress) watchUpload(total int64) (stop func()) {
	return p.every(func() string {
		return fmt.Sprintf("upload: %s of %s", textout.Bytes(p.sent.Load()), textout.Bytes(total))
	})
}

// counting returns r counting the bytes read from it. It hides r's other
// methods (ReaderAt), so that an upload of up to 5 GiB is one streamed PUT.
func (p *exportProgress) counting(r io.Reader) io.Reader {
	return &countingReader{r: r, n: &p.sent}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}
