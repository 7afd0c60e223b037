package lake

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// TestInternalTablesReadOnly: rat's own tables (layer _rat) refuse every
// write that does not come from rat itself, through each write path —
// Write in every mode, views, and iceberg-go operations on the catalog —
// and the refusal names the table. rat's own writes say so explicitly.
func TestInternalTablesReadOnly(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	reg := rat.TableID{Layer: "_rat", Name: "landing_files"}
	const rows = "SELECT * FROM (VALUES ('c', 'h1')) t(consumer, hash)"
	// rat's own write (the file registry) goes through.
	if _, err := l.Write(ctx, rat.DefaultBranch, reg, rows, WriteOptions{Mode: Append, Internal: true}); err != nil {
		t.Fatalf("an internal write: %v", err)
	}
	before := headOf(t, l, rat.DefaultBranch)
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: succeeded, want it refused", what)
		}
		if !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "table _rat.landing_files is read-only") {
			t.Fatalf("%s: err = %v, want EINVALID naming _rat.landing_files as read-only", what, err)
		}
	}
	for _, mode := range []Mode{Append, Replace, Merge, DeleteInsert} {
		_, err := l.Write(ctx, rat.DefaultBranch, reg, "SELECT 'x' AS consumer, 'h' AS hash WHERE false", WriteOptions{Mode: mode, Key: []string{"hash"}})
		refused("write ("+string(mode)+")", err)
	}
	_, err := l.Write(ctx, rat.DefaultBranch, rat.TableID{Layer: "_RAT", Name: "landing_files"}, rows, WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("the layer in upper case: err = %v, want refused", err)
	}
	refused("view", l.CreateView(ctx, rat.DefaultBranch, reg, "SELECT 1 AS x", ""))

	// Below the lake: iceberg-go operations on the branch's catalog.
	cat := l.Catalog(rat.DefaultBranch)
	tbl, err := cat.LoadTable(ctx, catalog.Identifier(reg))
	if err != nil {
		t.Fatal(err)
	}
	tx := tbl.NewTransaction()
	if err := tx.SetProperties(iceberg.Properties{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Commit(ctx)
	refused("iceberg-go transaction", err)
	refused("drop", cat.DropTable(ctx, catalog.Identifier(reg)))
	_, err = cat.RenameTable(ctx, catalog.Identifier(reg), table.Identifier{"bronze", "files"})
	refused("rename from", err)
	mustWrite(t, l, rat.DefaultBranch, "bronze.other", "SELECT 1 AS x", WriteOptions{})
	before = headOf(t, l, rat.DefaultBranch)
	_, err = cat.RenameTable(ctx, table.Identifier{"bronze", "other"}, table.Identifier{"_rat", "other"})
	if err == nil || !strings.Contains(err.Error(), "table _rat.other is read-only") {
		t.Fatalf("rename into _rat: err = %v, want refused", err)
	}
	_, err = cat.CreateTable(ctx, table.Identifier{"_rat", "new"}, iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "x", Type: iceberg.PrimitiveTypes.Int64}))
	if err == nil || !strings.Contains(err.Error(), "table _rat.new is read-only") {
		t.Fatalf("create in _rat: err = %v, want refused", err)
	}
	if after := headOf(t, l, rat.DefaultBranch); after != before {
		t.Fatalf("a refused write committed: head moved from %s to %s", before, after)
	}
	if n := queryInt(t, l, rat.DefaultBranch, At{}, "SELECT count(*) FROM _rat.landing_files"); n != 1 {
		t.Fatalf("the registry holds %d rows, want the 1 rat wrote", n)
	}
	// Reading stays open to everyone.
	if got := queryText(t, l, rat.DefaultBranch, At{}, "SELECT hash FROM _rat.landing_files"); strings.Join(got, ",") != "h1" {
		t.Fatalf("read the registry: %v", got)
	}
}
