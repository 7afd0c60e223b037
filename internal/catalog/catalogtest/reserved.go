package catalogtest

import (
	"database/sql"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// testReservedNames: run/ and ingest/ names belong to rat. Only a ref
// created as Internal may carry them (rat's own run and ingest branches),
// and the store says which refs are rat's, so cleanup never deletes a
// user's branch.
func testReservedNames(t *testing.T, s catalog.Store) {
	ctx := t.Context()
	root := head(t, s, "main")
	for _, r := range []rat.Ref{
		{Name: "run/mine", Kind: rat.Branch}, {Name: "ingest/x", Kind: rat.Branch},
		{Name: "Run/x", Kind: rat.Branch}, {Name: "run/v1", Kind: rat.Tag},
	} {
		r.Head = root
		wantCode(t, s.CreateRef(ctx, r), rat.EINVALID, "is reserved")
	}
	// rat's own branches, and only branches with those names, are internal.
	mustCreate(t, s, rat.Ref{Name: "run/20260101-abc", Kind: rat.Branch, Head: root, Internal: true})
	mustCreate(t, s, rat.Ref{Name: "ingest/20260101-abc", Kind: rat.Branch, Head: root, Internal: true})
	wantCode(t, s.CreateRef(ctx, rat.Ref{Name: "dev", Kind: rat.Branch, Head: root, Internal: true}), rat.EINTERNAL, "")
	wantCode(t, s.CreateRef(ctx, rat.Ref{Name: "run/t", Kind: rat.Tag, Head: root, Internal: true}), rat.EINTERNAL, "")
	mustCreate(t, s, rat.Ref{Name: "dev", Kind: rat.Branch, Head: root})
	got, err := s.Ref(ctx, "run/20260101-abc")
	if err != nil || !got.Internal {
		t.Fatalf("Ref(run/20260101-abc) = %+v, %v; want it internal", got, err)
	}
	refs, err := s.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	internal := map[string]bool{}
	for _, r := range refs {
		internal[r.Name] = r.Internal
	}
	want := map[string]bool{"main": false, "dev": false, "run/20260101-abc": true, "ingest/20260101-abc": true}
	if len(internal) != len(want) {
		t.Fatalf("refs = %v, want %v", internal, want)
	}
	for name, w := range want {
		if internal[name] != w {
			t.Errorf("ref %s internal = %v, want %v", name, internal[name], w)
		}
	}
}

// LegacyRunBranches checks the upgrade of a catalog made before rat marked
// its own branches: a run/<id> branch whose run the run records hold
// becomes rat's; a user's run/ or ingest/ branch stays the user's. db is
// the store's database; reopen opens the store again, which migrates it.
func LegacyRunBranches(t *testing.T, s catalog.Store, db *sql.DB, reopen func() catalog.Store) {
	ctx := t.Context()
	root := head(t, s, "main")
	// The state an older rat left: refs without the mark, and a run record.
	for _, stmt := range []string{
		`ALTER TABLE refs DROP COLUMN internal`,
		`DELETE FROM schema_migrations WHERE version = 10`,
		`INSERT INTO refs (name, kind, head) VALUES ('run/20260101-old', 'branch', '` + root + `')`,
		`INSERT INTO refs (name, kind, head) VALUES ('run/mine', 'branch', '` + root + `')`,
		`INSERT INTO refs (name, kind, head) VALUES ('ingest/mine', 'branch', '` + root + `')`,
		`INSERT INTO refs (name, kind, head) VALUES ('dev', 'branch', '` + root + `')`,
		`INSERT INTO runs (id, target, status, trigger, started_us, detail) VALUES ('20260101-old', 'main', 'failed', 'manual', 0, '{}')`,
		`INSERT INTO runs (id, target, status, trigger, started_us, detail) VALUES ('mine-not', 'main', 'failed', 'manual', 0, '{}')`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	s = reopen()
	refs, err := s.Refs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range refs {
		got[r.Name] = r.Internal
	}
	want := map[string]bool{"main": false, "dev": false, "run/20260101-old": true, "run/mine": false, "ingest/mine": false}
	for name, w := range want {
		if v, ok := got[name]; !ok || v != w {
			t.Errorf("after the upgrade, ref %s internal = %v (present %v), want %v", name, v, ok, w)
		}
	}
}
