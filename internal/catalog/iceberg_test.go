package catalog_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/sqlite"
)

func newIceberg(t *testing.T) (*catalog.Iceberg, catalog.Store) {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	objects, err := objstore.NewLocal(filepath.Join(dir, "warehouse"))
	if err != nil {
		t.Fatal(err)
	}
	io := objstore.IcebergIO(objects)
	return catalog.NewIceberg(store, catalog.IcebergConfig{
		Ref: rat.DefaultBranch, Warehouse: objects.URL(""),
		FS: func(context.Context) (icebergio.IO, error) { return io, nil },
	}), store
}

var schema = iceberg.NewSchema(0, iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64})

func TestIcebergCatalogBasics(t *testing.T) {
	cat, store := newIceberg(t)
	ctx := context.Background()
	ident := table.Identifier{"bronze", "a"}
	tbl, err := cat.CreateTable(ctx, ident, schema)
	if err != nil {
		t.Fatal(err)
	}
	if tbl.Properties()[table.ManifestMergeEnabledKey] != "true" || tbl.Properties()[table.CommitNumRetriesKey] == "" {
		t.Errorf("default properties missing: %v", tbl.Properties())
	}
	if _, err := cat.CreateTable(ctx, ident, schema); !errors.Is(err, icecat.ErrTableAlreadyExists) {
		t.Fatalf("second create: %v, want ErrTableAlreadyExists", err)
	}
	if ok, _ := cat.CheckTableExists(ctx, ident); !ok {
		t.Fatal("table should exist")
	}
	if ok, _ := cat.CheckNamespaceExists(ctx, table.Identifier{"bronze"}); !ok {
		t.Fatal("layer bronze should exist")
	}
	// A property update through iceberg-go's transaction is one rat commit.
	before, _ := store.Ref(ctx, rat.DefaultBranch)
	tx := tbl.NewTransaction()
	if err := tx.SetProperties(iceberg.Properties{"owner": "data-team"}); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := store.Ref(ctx, rat.DefaultBranch)
	c, err := store.GetCommit(ctx, after.Head)
	if err != nil || after.Head == before.Head || len(c.Parents) != 1 || c.Parents[0] != before.Head {
		t.Fatalf("commit %+v, %v", c, err)
	}
	loaded, err := cat.LoadTable(ctx, ident)
	if err != nil || loaded.Properties()["owner"] != "data-team" {
		t.Fatalf("reload: %v %v", loaded, err)
	}
	// Rename is one atomic commit; the old name is gone.
	if _, err := cat.RenameTable(ctx, ident, table.Identifier{"silver", "b"}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := cat.CheckTableExists(ctx, ident); ok {
		t.Fatal("old name still exists")
	}
	var names []string
	for id, err := range cat.ListTables(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, id[0]+"."+id[1])
	}
	if len(names) != 1 || names[0] != "silver.b" {
		t.Fatalf("tables = %v", names)
	}
	if err := cat.DropTable(ctx, table.Identifier{"silver", "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.LoadTable(ctx, table.Identifier{"silver", "b"}); !errors.Is(err, icecat.ErrNoSuchTable) {
		t.Fatalf("load dropped: %v", err)
	}
}

func TestIcebergMultiTableCommit(t *testing.T) {
	cat, store := newIceberg(t)
	ctx := context.Background()
	a, err := cat.CreateTable(ctx, table.Identifier{"bronze", "a"}, schema)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cat.CreateTable(ctx, table.Identifier{"bronze", "b"}, schema)
	if err != nil {
		t.Fatal(err)
	}
	commitOf := func(tbl *table.Table, v string) table.TableCommit {
		t.Helper()
		tx := tbl.NewTransaction()
		if err := tx.SetProperties(iceberg.Properties{"v": v}); err != nil {
			t.Fatal(err)
		}
		tc, err := tx.TableCommit()
		if err != nil {
			t.Fatal(err)
		}
		return tc
	}
	head := func() string {
		r, _ := store.Ref(ctx, rat.DefaultBranch)
		return r.Head
	}
	h0 := head()
	if err := cat.CommitTransaction(ctx, []table.TableCommit{commitOf(a, "1"), commitOf(b, "1")}); err != nil {
		t.Fatal(err)
	}
	c, err := store.GetCommit(ctx, head())
	if err != nil || len(c.Changes) != 2 || c.Parents[0] != h0 {
		t.Fatalf("one commit with both tables: %+v %v", c, err)
	}
	// One table's requirement fails (it is not the table the writer saw):
	// the whole transaction fails and nothing lands.
	h1 := head()
	bad := commitOf(b, "2")
	bad.Requirements = append(bad.Requirements, table.AssertTableUUID(uuid.New()))
	err = cat.CommitTransaction(ctx, []table.TableCommit{commitOf(a, "3"), bad})
	if err == nil || !errors.Is(err, table.ErrCommitFailed) {
		t.Fatalf("stale multi-table commit: %v, want ErrCommitFailed", err)
	}
	if head() != h1 {
		t.Fatal("a failed multi-table commit moved the branch")
	}
	if got, _ := cat.LoadTable(ctx, table.Identifier{"bronze", "a"}); got.Properties()["v"] != "1" {
		t.Fatalf("table a changed by a failed transaction: %v", got.Properties())
	}
}
