package cli

import (
	"strconv"
	"strings"
	"testing"
)

// A CSV file that is not UTF-8 is refused with the line of the bad byte,
// counted from the file's start (header and the lines of quoted multi-line
// fields included), the column, and how to re-encode it.
func TestCSVNotUTF8NamesTheLine(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	var b strings.Builder
	b.WriteString("id,note\n")
	for i := 1; i <= 20; i++ {
		note := "\"line one\nline two\""
		if i == 9 {
			note = "\"Gr\xfc\xdfe\naus M\xfcnchen\""
		}
		b.WriteString(strconv.Itoa(i) + "," + note + "\n")
	}
	u.write("latin.csv", b.String())
	// Record 9 starts on line 2*9 = 18: the header is line 1, each record
	// takes two lines.
	line := u.fails("latin.csv:18: not UTF-8: byte 0xFC in column \"note\"", "load", "latin.csv", "--into", "bronze.notes")
	if !strings.Contains(line, "iconv -f WINDOWS-1252 -t UTF-8 latin.csv > latin.utf8.csv") {
		t.Errorf("the error should say how to re-encode the file: %s", line)
	}
	u.fails("latin.csv:18: not UTF-8", "ingest", "latin.csv", "--into", "bronze.notes")
}
