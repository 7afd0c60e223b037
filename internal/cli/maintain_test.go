package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestMaintainExpire: rat maintain expire with its defaults from
// workspace.yaml keeps what refs and the last N need, a dry run changes
// nothing, every ref reads the same after, an expired snapshot's time
// travel ends with a message, and a second expiry does nothing.
func TestMaintainExpire(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: m\nmaintenance:\n  expire:\n    older_than: 0d\n    retain_last: 2\n")
		for i := 1; i <= 4; i++ {
			u.write("s.csv", fmt.Sprintf("id,v\n%d,a\n%d,b\n", i, i))
			u.ok("load", "s.csv", "--into", "bronze.s")
			if i == 2 {
				u.ok("tag", "create", "v1")
			}
		}
		u.ok("branch", "create", "dev")
		u.ok("load", "s.csv", "--into", "bronze.s", "--branch", "dev")
		snapshots := func(branch string) []int64 {
			t.Helper()
			var info struct {
				Snapshots []struct {
					ID int64 `json:"id"`
				} `json:"snapshots"`
			}
			if err := json.Unmarshal([]byte(u.ok("describe", "bronze.s", "--json", "--branch", branch)), &info); err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, s := range info.Snapshots {
				ids = append(ids, s.ID)
			}
			return ids
		}
		before := snapshots("main")
		if len(before) != 4 {
			t.Fatalf("main has snapshots %v, want 4", before)
		}
		read := func() string {
			var b strings.Builder
			for _, br := range []string{"main", "dev", "v1"} {
				b.WriteString(u.ok("query", "SELECT count(*), sum(id) FROM bronze.s", "--branch", br, "--format", "csv"))
			}
			for _, id := range before[2:] {
				b.WriteString(u.ok("query", "SELECT count(*), sum(id) FROM bronze.s", "--at", fmt.Sprint(id), "--format", "csv"))
			}
			return b.String()
		}
		want, commits := read(), u.commits()

		if out := u.ok("maintain", "expire", "--dry-run", "--retain-last", "10"); !strings.Contains(out, "no snapshot to expire") {
			t.Fatalf("--retain-last 10 should keep all four:\n%s", out)
		}
		dry := u.ok("maintain", "expire", "--dry-run")
		if !strings.Contains(dry, "WOULD EXPIRE") || !strings.Contains(dry, "would delete") || !strings.Contains(dry, ".avro") {
			t.Fatalf("dry run output:\n%s", dry)
		}
		if u.commits() != commits || len(snapshots("main")) != 4 {
			t.Fatalf("dry run changed the catalog")
		}
		out := u.ok("maintain", "expire")
		if !strings.Contains(out, "main") || !strings.Contains(out, "deleted") {
			t.Fatalf("expire output:\n%s", out)
		}
		if got := read(); got != want {
			t.Fatalf("reads changed:\n%s\nwant\n%s", got, want)
		}
		if u.commits() != commits+1 {
			t.Errorf("expiry on main is not one commit: %d -> %d", commits, u.commits())
		}
		// main keeps its last 2 and the tag's snapshot (the second).
		if got := snapshots("main"); fmt.Sprint(got) != fmt.Sprint(before[1:]) {
			t.Errorf("main keeps %v, want %v", got, before[1:])
		}
		u.fails("snapshot "+fmt.Sprint(before[0]), "query", "SELECT count(*) FROM bronze.s", "--at", fmt.Sprint(before[0]))

		again := u.ok("maintain", "expire")
		if !strings.Contains(again, "no snapshot to expire") || !strings.Contains(again, "deleted 0 files") {
			t.Fatalf("second expiry:\n%s", again)
		}
		// A backup of one ref copies what its expired history still has.
		if out := u.ok("export", filepath.Join(t.TempDir(), "b"), "--ref", "dev"); !strings.Contains(out, "export") {
			t.Errorf("export --ref dev after expiry: %s", out)
		}
		u.fails("--older-than", "maintain", "expire", "--older-than", "a-week")
		u.fails("bronze.nope is on no branch or tag", "maintain", "expire", "bronze.nope")
	})
}
