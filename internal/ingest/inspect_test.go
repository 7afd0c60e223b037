package ingest

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	gz := func(s string) string {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.String()
	}
	cases := []struct {
		name, content string
		want          Contents
		err           string
	}{
		{"empty.csv", "", HasRows, "empty.csv is empty (0 bytes): nothing to load; a CSV file needs at least a header line"},
		{"blank.csv", "\n\n", HasRows, "blank.csv is empty (blank lines only)"},
		{"header.csv", "a,b\n", NoRows, ""},
		{"header_no_newline.csv", "a,b", NoRows, ""},
		{"header_blank.tsv", "a\tb\n\n\n", NoRows, ""},
		{"rows.csv", "a,b\n1,2\n", HasRows, ""},
		{"header.csv.gz", gz("a,b\n"), NoRows, ""},
		{"rows.csv.gz", gz("a,b\n1,2\n"), HasRows, ""},
		{"empty.json", "", HasRows, "empty.json is empty (0 bytes)"},
		{"blank.json", "  \n", HasRows, "blank.json is empty (blank space only): nothing to load; a JSON file needs at least one record"},
		{"array.json", " [ \n ] \n", NoRecords, ""},
		{"records.json", `[{"a":1}]`, HasRows, ""},
		{"lines.ndjson", "{\"a\":1}\n", HasRows, ""},
		{"empty.parquet", "", HasRows, "empty.parquet is empty (0 bytes)"},
		{"short.parquet", "PAR1", HasRows, "short.parquet is damaged: 4 bytes is too small for a Parquet file"},
		{"text.parquet", "id,name\n1,a\n2,b\n", HasRows, "does not start and end with the Parquet marker PAR1"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			format, err := Format(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Inspect(p, format)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Inspect = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}
