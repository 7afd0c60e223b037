package migrate

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// TestTerminal: the files line shows files, bytes, rate and ETA, rewritten
// in place, and ends with a newline when the phase finishes.
func TestTerminal(t *testing.T) {
	var b bytes.Buffer
	p := Terminal(&b)
	p(Progress{Phase: "files", Done: 3, Total: 10, Bytes: 10 << 20, TotalBytes: 30 << 20, Elapsed: 2 * time.Second})
	p(Progress{Phase: "files", Done: 4, Total: 10, Bytes: 11 << 20, TotalBytes: 30 << 20, Elapsed: 2 * time.Second}) // throttled
	p(Progress{Phase: "files", Done: 10, Total: 10, Bytes: 30 << 20, TotalBytes: 30 << 20, Elapsed: 6 * time.Second, Finished: true})
	out := b.String()
	for _, want := range []string{"\rfiles 3/10  10.0 MiB/30.0 MiB  5.0 MiB/s  ETA 4s", "\rfiles 10/10  30.0 MiB/30.0 MiB  5.0 MiB/s  ETA 0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "4/10") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("progress %q: want the second line throttled and one final newline", out)
	}
}

// TestRewriteJSON: locations under any source root, escaped as JSON
// escapes them, name the target root; other strings keep their bytes.
func TestRewriteJSON(t *testing.T) {
	r := &rewriter{from: []string{"file:///old/a&b/warehouse", "s3://src/wh"}, to: "s3://dst/new"}
	in := `{"location":"file:///old/a\u0026b/warehouse/bronze/t","l2":"file:///old/a&b/warehouse/x","manifest-list":"s3://src/wh/bronze/t/metadata/snap-1.avro",` +
		`"other":"s3://src/whx/keep","note":"file:///old/a&b/warehouse"}`
	want := `{"location":"s3://dst/new/bronze/t","l2":"s3://dst/new/x","manifest-list":"s3://dst/new/bronze/t/metadata/snap-1.avro",` +
		`"other":"s3://src/whx/keep","note":"file:///old/a&b/warehouse"}`
	if got := string(r.json([]byte(in))); got != want {
		t.Fatalf("rewrite:\n%s\nwant:\n%s", got, want)
	}
	if !r.applies("bronze/t/metadata/00001-x.metadata.json") || !r.applies("bronze/t/metadata/snap-1-x.avro") ||
		r.applies("bronze/t/data/x.parquet") || r.applies("gold/v/views/x.view.json") {
		t.Fatal("applies: want metadata JSON and metadata Avro files only")
	}
}

// TestWorkersBounded: --workers outside 1..64 is refused before anything
// is read.
func TestWorkersBounded(t *testing.T) {
	for _, n := range []int{-1, 65} {
		_, err := Run(context.Background(), Options{Workers: n})
		if !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "want 1 to 64") {
			t.Errorf("workers %d: %v", n, err)
		}
	}
}
