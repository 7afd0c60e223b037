package cli

import (
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ratdata/rat/internal/sqlite"
)

// TestMigrateDiskFull: rat migrate to a local target whose disk fills up
// (a small tmpfs, a real full disk) fails with one clear error and
// publishes nothing: no catalog entry at the target, no partial file; once
// space is freed (the tmpfs made larger) the same command completes,
// verified. Once with the warehouse on the full disk (the files phase
// fails), once with the catalog on it (the target catalog cannot even be
// created). Mounting needs a mount namespace of its own: the test runs in
// a child process made with CLONE_NEWNS (mounts there are private and go
// away with it), and skips where that is not permitted, except as root
// under CI=true.
func TestMigrateDiskFull(t *testing.T) {
	if os.Getenv("RAT_TEST_FULL_CHILD") != "" {
		diskFullChild(t)
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMigrateDiskFull$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "RAT_TEST_FULL_CHILD=1", "RAT_TEST_FULL_BIN="+ratBinary(t))
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		cannotMount(t, "cannot make a mount namespace (unshare CLONE_NEWNS): "+err.Error())
	case strings.Contains(string(out), "--- SKIP"):
		cannotMount(t, "cannot mount a tmpfs in a mount namespace of its own:\n"+string(out))
	case err != nil:
		t.Fatalf("the test in its own mount namespace failed: %v\n%s", err, out)
	}
	t.Logf("in its own mount namespace:\n%s", out)
}

// cannotMount skips a test that needs to mount a file system, or fails it
// as root under CI=true, where mounting must work.
func cannotMount(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
		t.Fatalf("%s (CI=true as root: the disk-full test must run)", why)
	}
	t.Skipf("%s: the disk-full test needs root (or CAP_SYS_ADMIN) on Linux", why)
}

// tmpfs mounts a tmpfs of the given size ("32k") on a new directory,
// unmounted when the test ends; resize changes its size.
func tmpfs(t *testing.T, size string) (dir string, resize func(size string)) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "full")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Error(err)
		}
	})
	return dir, func(size string) {
		t.Helper()
		if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size="+size); err != nil {
			t.Fatal(err)
		}
	}
}

// diskFullChild is TestMigrateDiskFull in its own mount namespace.
func diskFullChild(t *testing.T) {
	buildOnce.Do(func() { binPath = os.Getenv("RAT_TEST_FULL_BIN") })
	u := newUser(t, false)
	u.ok("init", "ws", "--demo")
	u.dir = filepath.Join(u.dir, "ws")
	u.ok("run")

	t.Run("warehouse", func(t *testing.T) {
		u := *u
		u.t = t
		full, resize := tmpfs(t, "32k") // less than the demo's files
		warehouse, cat := filepath.Join(full, "warehouse"), filepath.Join(t.TempDir(), "catalog.db")
		args := []string{"migrate", "--to-warehouse", warehouse, "--to-catalog", "sqlite:" + cat}
		u.fails("the target warehouse file://"+warehouse+" is full (no space left on its disk)", args...)
		// Nothing published: the target catalog names no table, and no
		// partial file is left.
		db, err := sql.Open("sqlite", sqlite.DSN(cat))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var tables int
		if err := db.QueryRow(`SELECT COUNT(*) FROM ref_tables`).Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("the target catalog holds %d table entries (%v), want none", tables, err)
		}
		noTempFiles(t, full)
		resize("16m")
		verifiedMigration(t, &u, args)
		target := &ratUser{t: t, bin: u.bin, dir: u.dir, env: append(append([]string{}, u.env...),
			"RAT_CATALOG_URL="+cat, "ICEBERG_WAREHOUSE="+warehouse)}
		if got, want := target.count("silver.orders"), u.count("silver.orders"); got != want || got == "0" {
			t.Fatalf("silver.orders at the target: %s rows, at the source %s", got, want)
		}
	})
	t.Run("catalog", func(t *testing.T) {
		u := *u
		u.t = t
		full, resize := tmpfs(t, "32k") // less than a new catalog
		warehouse, cat := filepath.Join(t.TempDir(), "warehouse"), filepath.Join(full, "catalog.db")
		args := []string{"migrate", "--to-warehouse", warehouse, "--to-catalog", "sqlite:" + cat}
		u.fails("the sqlite catalog database has no space left (its disk is full): free space there and retry", args...)
		if entries, err := os.ReadDir(warehouse); err == nil && len(entries) > 0 {
			t.Fatalf("the refused migration wrote %d entries into the target warehouse", len(entries))
		}
		resize("16m")
		verifiedMigration(t, &u, args)
	})
}

// verifiedMigration runs rat migrate args and wants a verified report.
func verifiedMigration(t *testing.T, u *ratUser, args []string) {
	t.Helper()
	out := u.ok(append(args, "--json")...)
	var rep migrateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Verified {
		t.Fatalf("not verified (%v):\n%s", err, out)
	}
}

// noTempFiles fails if a temporary file of the local store (.tmp-*) is
// left under dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			t.Errorf("a partial file is left: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
