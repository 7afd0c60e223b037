package textout

import (
	"bytes"
	"testing"
)

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		word string
		want string
	}{
		{1, "row", "1 row"},
		{0, "row", "0 rows"},
		{2, "file", "2 files"},
		{2, "run branch", "2 run branches"},
		{1, "run branch", "1 run branch"},
		{3, "pass", "3 passes"},
	} {
		if got := Plural(tt.n, tt.word); got != tt.want {
			t.Errorf("Plural(%d, %q) = %q, want %q", tt.n, tt.word, got, tt.want)
		}
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 3 << 20: "3.0 MiB", 5 << 30: "5.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	Table(&b, []string{"NAME", "RÉSUMÉ", "N"}, [][]string{{"a", "x", "1"}, {"longer", "é", ""}})
	want := "NAME    RÉSUMÉ  N\n" +
		"a       x       1\n" +
		"longer  é\n"
	if b.String() != want {
		t.Errorf("Table wrote\n%s\nwant\n%s", b.String(), want)
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 2000: "2,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}
