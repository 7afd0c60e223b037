package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ratdata/rat"
)

// TestReservedRefNames: branches and tags named run/… or ingest/… are
// rat's own (rat run --cleanup deletes them): the API refuses to create
// them or to merge into them, with an error that says why.
func TestReservedRefNames(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, basicFiles, nil)
	for _, c := range []struct{ path, name string }{
		{"/api/v1/branches", "run/mine"}, {"/api/v1/branches", "ingest/x"}, {"/api/v1/tags", "run/v1"},
	} {
		r := e.want(e.do("POST", c.path, map[string]any{"name": c.name}), http.StatusBadRequest)
		if r.errCode() != "invalid" || !strings.Contains(r.errMessage(), `"`+c.name+`" is reserved`) {
			t.Fatalf("POST %s %s: %s", c.path, c.name, r.raw)
		}
	}
	e.want(e.do("GET", "/api/v1/branches/run/mine", nil), http.StatusNotFound)
	// A branch a run kept: rat's own, readable, not a merge target.
	main, err := e.lake.Store().Ref(t.Context(), "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.lake.Store().CreateRef(t.Context(), rat.Ref{Name: "run/20260101-x", Kind: rat.Branch, Head: main.Head, Internal: true}); err != nil {
		t.Fatal(err)
	}
	r := e.want(e.do("POST", "/api/v1/merge", map[string]any{"source": "main", "into": "run/20260101-x"}), http.StatusBadRequest)
	if !strings.Contains(r.errMessage(), "cannot merge into run/20260101-x: the name is reserved") {
		t.Fatalf("merge into run/20260101-x: %s", r.raw)
	}
	e.want(e.do("POST", "/api/v1/merge", map[string]any{"source": "run/20260101-x", "into": "main", "dry_run": true}), http.StatusOK)
}
