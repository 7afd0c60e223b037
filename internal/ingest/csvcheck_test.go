package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckCSV(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"ok", "a,b\n1,2\n\"x,y\",3\n", ""},
		{"extra field", "a,b\n1,2\n3,4,5\n", "bad.csv:3: malformed CSV: wrong number of fields"},
		{"missing field", "a,b\n1,2\n3\n", "bad.csv:3:"},
		{"open quote", "a,b\n\"1,2\n", "bad.csv:2: malformed CSV"},
		{"empty", "", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad.csv")
			if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			err := CheckCSV(p, ',')
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	for in, want := range map[string]string{"a.csv": "csv", "a.TSV.gz": "csv", "x.ndjson": "json", "y.parquet": "parquet"} {
		if got, err := Format(in); err != nil || got != want {
			t.Errorf("Format(%s) = %q, %v; want %s", in, got, err, want)
		}
	}
	if _, err := Format("a.xml"); err == nil {
		t.Error("Format(a.xml): want an error")
	}
}
