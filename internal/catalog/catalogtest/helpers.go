package catalogtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

func tid(s string) rat.TableID {
	id, err := rat.ParseTableID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// change builds a Change of table from expected to metadata.
func change(table, expected, metadata string) catalog.Change {
	return catalog.Change{Table: tid(table), Expected: expected, Metadata: metadata}
}

func req(branch string, changes ...catalog.Change) catalog.CommitRequest {
	return catalog.CommitRequest{Branch: branch, Author: "tester", Message: "test commit", Changes: changes}
}

func mustCommit(t *testing.T, s catalog.Store, r catalog.CommitRequest) rat.Commit {
	t.Helper()
	c, err := s.Commit(t.Context(), r)
	if err != nil {
		t.Fatalf("commit to %s: %v", r.Branch, err)
	}
	return c
}

func mustCreate(t *testing.T, s catalog.Store, r rat.Ref) {
	t.Helper()
	if err := s.CreateRef(t.Context(), r); err != nil {
		t.Fatalf("create %s %s: %v", r.Kind, r.Name, err)
	}
}

func mustGetCommit(t *testing.T, s catalog.Store, id string) rat.Commit {
	t.Helper()
	c, err := s.GetCommit(t.Context(), id)
	if err != nil {
		t.Fatalf("get commit %s: %v", id, err)
	}
	return c
}

func mustLog(t *testing.T, s catalog.Store, head string, limit int) []rat.Commit {
	t.Helper()
	log, err := s.Log(t.Context(), head, limit)
	if err != nil {
		t.Fatalf("log %s: %v", head, err)
	}
	return log
}

func mergeBase(t *testing.T, s catalog.Store, a, b string) string {
	t.Helper()
	base, err := s.MergeBase(t.Context(), a, b)
	if err != nil {
		t.Fatalf("merge base of %s and %s: %v", a, b, err)
	}
	return base
}

func head(t *testing.T, s catalog.Store, ref string) string {
	t.Helper()
	r, err := s.Ref(t.Context(), ref)
	if err != nil {
		t.Fatalf("ref %s: %v", ref, err)
	}
	return r.Head
}

// wantCode fails unless err has the code and its message contains substr.
func wantCode(t *testing.T, err error, code, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s containing %q", code, substr)
	}
	if got := rat.ErrorCode(err); got != code {
		t.Fatalf("error code = %s, want %s (error: %v)", got, code, err)
	}
	if !strings.Contains(rat.ErrorMessage(err), substr) {
		t.Fatalf("error %q does not contain %q", rat.ErrorMessage(err), substr)
	}
}

// entries renders table entries as "layer.name=metadata@commit".
func entries(es []rat.TableEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Table.String()+"="+e.Metadata+"@"+e.CommitID)
	}
	return out
}

// wantTables checks Tables(ref), in order, against "layer.name=metadata@commit".
func wantTables(t *testing.T, s catalog.Store, ref string, want ...string) {
	t.Helper()
	got, err := s.Tables(t.Context(), ref)
	if err != nil {
		t.Fatalf("tables of %s: %v", ref, err)
	}
	if !slices.Equal(entries(got), want) {
		t.Fatalf("tables of %s = %v, want %v", ref, entries(got), want)
	}
}

func ids(cs []rat.Commit) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func short(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = rat.ShortID(id)
	}
	return out
}

// equalCommit compares commits field by field (nil and empty slices equal).
func equalCommit(a, b rat.Commit) bool {
	return a.ID == b.ID && a.Author == b.Author && a.Message == b.Message && a.Time.Equal(b.Time) &&
		slices.Equal(a.Parents, b.Parents) && slices.Equal(a.Changes, b.Changes)
}
