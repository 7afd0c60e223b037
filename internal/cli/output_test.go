package cli

import "testing"

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
		if got := plural(tt.n, tt.word); got != tt.want {
			t.Errorf("plural(%d, %q) = %q, want %q", tt.n, tt.word, got, tt.want)
		}
	}
}
