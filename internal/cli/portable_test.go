package cli

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ratdata/rat/internal/sqlite"
)

// portableWorkspace builds the demo workspace with some history: runs (one
// failed, its branch kept), an incremental run, a tag, a branch with its own
// table, a merge, a view. It returns the user (in the workspace) and the
// id of the oldest snapshot of silver.orders.
// move moves u's workspace directory (mv) to a new directory name.
func (u *ratUser) move(t *testing.T, name string) {
	t.Helper()
	to := filepath.Join(t.TempDir(), name)
	if err := os.Rename(u.dir, to); err != nil {
		t.Fatal(err)
	}
	u.dir = to
}

func portableWorkspace(t *testing.T) (*ratUser, string) {
	t.Helper()
	u := newUser(t, false)
	u.ok("init", "ws", "--demo")
	u.dir = filepath.Join(u.dir, "ws")
	u.ok("run")
	u.ok("tag", "create", "v1")
	u.ok("branch", "create", "dev")
	u.write("extra.csv", "id,note\n1,a\n2,b\n")
	u.ok("load", "extra.csv", "--into", "bronze.extra", "--branch", "dev")
	u.write("landing/orders/new.csv", "order_id,customer_id,status,amount,updated_at\n2001,1,placed,12.50,2030-01-01 00:00:00\n")
	u.ok("run", "+silver.orders")
	u.write("landing/orders/bad.csv", "order_id,customer_id,status,amount,updated_at\n2003,1,lost,-5,2030-01-03 00:00:00\n")
	if _, _, code := u.run("run"); code == 0 {
		t.Fatal("the run with a bad row should fail")
	}
	if err := os.Remove(filepath.Join(u.dir, "landing/orders/bad.csv")); err != nil {
		t.Fatal(err)
	}
	u.ok("merge", "dev")
	var info struct {
		Snapshots []struct {
			ID int64 `json:"id"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(u.ok("describe", "silver.orders", "--json")), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Snapshots) < 2 {
		t.Fatalf("silver.orders has %d snapshots, want 2 or more", len(info.Snapshots))
	}
	return u, fmt.Sprint(info.Snapshots[0].ID)
}

// portableQueries is the fixed list of commands whose output must not
// change when the workspace moves.
func portableQueries(first string) [][]string {
	count := func(table string, extra ...string) []string {
		return append([]string{"query", "SELECT count(*) AS n, sum(hash(t)) AS h FROM " + table + " t", "--format", "csv"}, extra...)
	}
	return [][]string{
		count("silver.orders"),
		count("silver.orders", "--branch", "v1"),
		count("silver.orders", "--at", first),
		count("bronze.extra"),
		count("bronze.extra", "--branch", "dev"),
		count("gold.customer_value"),
		count("gold.daily_revenue", "--branch", "v1"),
		count("_rat.landing_files"),
		{"diff", "v1", "main"},
		{"log", "-n", "0"},
		{"log", "v1", "-n", "0"},
		{"runs", "list"},
		{"branch", "list"},
		{"tables", "--branch", "v1"},
		{"describe", "silver.orders", "--json"},
	}
}

// outputs runs every query and returns their outputs by command line.
func outputs(u *ratUser, queries [][]string) map[string]string {
	u.t.Helper()
	out := map[string]string{}
	for _, q := range queries {
		out[strings.Join(q, " ")] = u.ok(q...)
	}
	return out
}

func sameOutputs(t *testing.T, where string, want, got map[string]string) {
	t.Helper()
	for q, w := range want {
		if got[q] != w {
			t.Errorf("%s: rat %s\ngot:\n%s\nwant:\n%s", where, q, got[q], w)
		}
	}
}

// TestMovedWorkspace: a workspace directory moved elsewhere (mv) answers
// every query as before, and writes and runs go on.
func TestMovedWorkspace(t *testing.T) {
	t.Parallel()
	u, first := portableWorkspace(t)
	queries := portableQueries(first)
	before := outputs(u, queries)

	u.move(t, "ws2")
	sameOutputs(t, "after mv", before, outputs(u, queries))

	// Writes and an incremental run work at the new place.
	u.write("landing/orders/newer.csv", newerOrders)
	n := u.count("silver.orders")
	u.ok("run", "+silver.orders")
	if after := u.count("silver.orders"); after == n {
		t.Fatalf("the incremental run after the move added nothing: %s rows", after)
	}
	u.ok("load", "extra.csv", "--into", "bronze.extra")
	if n := u.count("bronze.extra"); n != "4" {
		t.Fatalf("bronze.extra after a load at the new place: %s rows, want 4", n)
	}

	// Moved once more: files written at each place are found.
	u.move(t, "ws3")
	if n := u.count("bronze.extra"); n != "4" {
		t.Fatalf("bronze.extra after a second move: %s rows, want 4", n)
	}
	if q := queries[2]; u.ok(q...) != before[strings.Join(q, " ")] {
		t.Fatalf("rat %s after a second move: %s, want %s", strings.Join(q, " "), u.ok(q...), before[strings.Join(q, " ")])
	}
	if out := u.ok("query", "SELECT count(*) AS n FROM bronze.extra", "--branch", "dev", "--format", "csv"); out != "n\n2\n" {
		t.Fatalf("dev after a second move: %q", out)
	}
}

// TestCopiedWorkspace: cp -r gives an independent copy: writes to one do not
// show in the other, and the copy keeps working once the original is gone.
func TestCopiedWorkspace(t *testing.T) {
	t.Parallel()
	u, first := portableWorkspace(t)
	queries := portableQueries(first)
	before := outputs(u, queries)

	copied := filepath.Join(t.TempDir(), "ws3")
	if out, err := exec.Command("cp", "-r", u.dir, copied).CombinedOutput(); err != nil {
		t.Fatalf("cp -r: %v\n%s", err, out)
	}
	orig := *u
	cp := &ratUser{t: t, bin: u.bin, dir: copied, env: u.env}
	sameOutputs(t, "the copy", before, outputs(cp, queries))

	cp.write("more.csv", "id,note\n3,c\n")
	cp.ok("load", "more.csv", "--into", "bronze.extra")
	orig.write("most.csv", "id,note\n4,d\n5,e\n6,f\n")
	orig.ok("load", "most.csv", "--into", "bronze.extra")
	if n := cp.count("bronze.extra"); n != "3" {
		t.Errorf("the copy's bronze.extra: %s rows, want 3 (2 + its own 1)", n)
	}
	if n := orig.count("bronze.extra"); n != "5" {
		t.Errorf("the original's bronze.extra: %s rows, want 5 (2 + its own 3)", n)
	}

	// The copy reads nothing of the original's files.
	if err := os.RemoveAll(orig.dir); err != nil {
		t.Fatal(err)
	}
	after := outputs(cp, queries)
	changed := map[string]bool{ // by the copy's own load on main
		strings.Join(queries[3], " "): true, "diff v1 main": true, "log -n 0": true, "branch list": true,
	}
	for _, q := range queries {
		k := strings.Join(q, " ")
		if changed[k] {
			continue
		}
		if after[k] != before[k] {
			t.Errorf("the copy, original removed: rat %s\ngot:\n%s\nwant:\n%s", k, after[k], before[k])
		}
	}
	if n := cp.count("bronze.extra"); n != "3" {
		t.Errorf("the copy's bronze.extra with the original removed: %s rows, want 3", n)
	}
}

// TestMovedOldCatalog: a catalog that records full metadata locations, as
// rat did before locations were relative (and a warehouse without its list
// of roots), still works after the workspace moves.
func TestMovedOldCatalog(t *testing.T) {
	t.Parallel()
	u, first := portableWorkspace(t)
	state := filepath.Join(u.dir, ".rat")
	root := "file://" + filepath.ToSlash(filepath.Join(state, "warehouse"))
	db, err := sql.Open("sqlite", sqlite.DSN(filepath.Join(state, "catalog.db")))
	if err != nil {
		t.Fatal(err)
	}
	for _, tbl := range []string{"commit_changes", "ref_tables"} {
		if _, err := db.ExecContext(context.Background(),
			"UPDATE "+tbl+" SET metadata = ? || '/' || metadata WHERE metadata IS NOT NULL AND metadata NOT LIKE '%:%'", root); err != nil {
			t.Fatal(err)
		}
	}
	var relative int
	if err := db.QueryRow("SELECT count(*) FROM commit_changes WHERE metadata NOT LIKE 'file:%'").Scan(&relative); err != nil || relative != 0 {
		t.Fatalf("%d locations are not full: %v", relative, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(state, "warehouse", "rat-warehouse.json")); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	queries := portableQueries(first)
	before := outputs(u, queries)
	if !strings.Contains(before["describe silver.orders --json"], root) {
		t.Fatalf("the old catalog should record full locations:\n%s", before["describe silver.orders --json"])
	}

	u.move(t, "old2")
	sameOutputs(t, "old catalog after mv", before, outputs(u, queries))
	u.write("landing/orders/newer.csv", newerOrders)
	u.ok("run")
	u.ok("load", "extra.csv", "--into", "bronze.extra")
	if n := u.count("bronze.extra"); n != "4" {
		t.Fatalf("bronze.extra after a load at the new place: %s rows, want 4", n)
	}
}
