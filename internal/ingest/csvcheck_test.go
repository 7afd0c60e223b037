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
		{"latin-1", "id,name\n1,ok\n2,Jos\xe9\n3,ok\n", `bad.csv:3: not UTF-8: byte 0xE9 in column "name" is not valid UTF-8 (in Windows-1252 or Latin-1 it is "é"`},
		{"latin-1 in a quoted multi-line field", "id,note\n1,\"two\nlines\"\n2,\"one\nM\xfcnchen\"\n", `bad.csv:5: not UTF-8: byte 0xFC in column "note"`},
		{"latin-1 after CRLF line ends", "id,note\r\n1,\"a\r\nb\"\r\n2,\x80\r\n", `bad.csv:4: not UTF-8: byte 0x80 in column "note" is not valid UTF-8 (in Windows-1252 or Latin-1 it is "€"`},
		{"latin-1 header", "id,Stra\xdfe\n1,x\n", "bad.csv:1: not UTF-8: byte 0xDF in the header"},
		{"utf-16", "\xff\xfei\x00d\x00\n\x00", "bad.csv:1: not UTF-8: the file is UTF-16"},
		{"utf-8 with a byte order mark", "\xef\xbb\xbfid,name\n1,Jos\xc3\xa9\n", ""},
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

// Quarantine sets a line that is not UTF-8 aside, with its real line.
func TestSplitCSVNotUTF8(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(p, []byte("id,note\n1,\"a\nb\"\n2,M\xfcnchen\n3,ok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "clean.csv")
	rejects, err := SplitCSV(p, ',', out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rejects) != 1 || rejects[0].Line != 4 || !strings.Contains(rejects[0].Error, `not UTF-8: byte 0xFC in column "note"`) || rejects[0].Raw != "2,M\uFFFDnchen" {
		t.Fatalf("rejects = %+v", rejects)
	}
	if b, _ := os.ReadFile(out); string(b) != "id,note\n1,\"a\nb\"\n3,ok\n" {
		t.Fatalf("clean file = %q", b)
	}
}
