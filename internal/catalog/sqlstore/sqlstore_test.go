package sqlstore

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"
)

func TestDollarRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ? AND c IN (?,?)", "SELECT a FROM t WHERE b = $1 AND c IN ($2,$3)"},
		{"SELECT '?', \"a?\" FROM t WHERE x = ?", "SELECT '?', \"a?\" FROM t WHERE x = $1"},
		{"VALUES (?,?),(?,?)", "VALUES ($1,$2),($3,$4)"},
	} {
		if got := DollarRebind(tc.in); got != tc.want {
			t.Errorf("DollarRebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRowPlaceholders(t *testing.T) {
	if got := RowPlaceholders(2, 3); got != "(?,?,?),(?,?,?)" {
		t.Errorf("RowPlaceholders(2, 3) = %q", got)
	}
	if got := RowPlaceholders(1, 1); got != "(?)" {
		t.Errorf("RowPlaceholders(1, 1) = %q", got)
	}
}

func TestChunks(t *testing.T) {
	var got [][2]int
	_ = Chunks(1001, 500, func(lo, hi int) error { got = append(got, [2]int{lo, hi}); return nil })
	if len(got) != 3 || got[0] != [2]int{0, 500} || got[2] != [2]int{1000, 1001} {
		t.Errorf("chunks = %v", got)
	}
	if err := Chunks(0, 500, func(lo, hi int) error { return errors.New("called") }); err != nil {
		t.Error("Chunks(0) called fn")
	}
}

func TestReadMigrations(t *testing.T) {
	ms, err := ReadMigrations(fstest.MapFS{
		"0002_more.sql": {Data: []byte("B")},
		"0001_init.sql": {Data: []byte("A")},
		"0010_late.sql": {Data: []byte("C")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[0].Version != 1 || ms[1].Version != 2 || ms[2].Version != 10 || ms[2].SQL != "C" {
		t.Fatalf("migrations = %+v, want versions 1, 2, 10 in order", ms)
	}
	for name, files := range map[string]fstest.MapFS{
		"bad name":  {"init.sql": {}},
		"duplicate": {"0001_a.sql": {}, "01_b.sql": {}},
	} {
		if _, err := ReadMigrations(files); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRetry(t *testing.T) {
	busy := errors.New("busy")
	s := &Store{d: Dialect{Classify: func(err error) ErrorKind {
		if errors.Is(err, busy) {
			return Retryable
		}
		return Other
	}}}
	calls := 0
	err := s.retry(t.Context(), func() error {
		calls++
		if calls < 3 {
			return busy
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("retry = %v after %d calls, want success after 3", err, calls)
	}
	calls = 0
	if err := s.retry(t.Context(), func() error { calls++; return busy }); !errors.Is(err, busy) || calls != maxAttempts {
		t.Errorf("retry = %v after %d calls, want busy after %d", err, calls, maxAttempts)
	}
	calls = 0
	other := errors.New("other")
	if err := s.retry(t.Context(), func() error { calls++; return other }); err != other || calls != 1 {
		t.Errorf("retry of a non-retryable error = %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.retry(ctx, func() error { return busy }); !errors.Is(err, context.Canceled) {
		t.Errorf("retry with a canceled context = %v", err)
	}
}
