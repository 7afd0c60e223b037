package cli

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/testenv"
)

// checkBenchMigrate checks rat bench migrate's report: the files table
// with one row per size (MB/s of both sides, their ratio, the child's peak
// memory) and the catalog table with the commits copied and commits/s,
// into SQLite and each of catalogs.
func checkBenchMigrate(t *testing.T, out string, sizes []string, commits string, catalogs ...string) {
	t.Helper()
	for _, want := range []string{"RAT MB/S", "FILES PHASE MB/S", "PLAIN MB/S", "RAT/PLAIN", "FILES PHASE/PLAIN", "RAT PEAK RSS", "COMMITS/S", "sqlite → sqlite"} {
		if !strings.Contains(out, want) {
			t.Fatalf("bench migrate output lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(out, "\n")
	for _, size := range sizes {
		found := false
		for _, l := range lines {
			if f := strings.Fields(l); len(f) == 12 && f[0]+" "+f[1] == size {
				// SIZE(2) WAREHOUSE(2) FILES RAT FILES-PHASE PLAIN RATIO RATIO PEAK(2)
				found = true
				for _, i := range []int{4, 5, 6, 7, 8, 9, 10} {
					if v, err := strconv.ParseFloat(f[i], 64); err != nil || v <= 0 {
						t.Fatalf("row for %s: column %d is not a positive number: %q", size, i, l)
					}
				}
			}
		}
		if !found {
			t.Fatalf("no row for size %s:\n%s", size, out)
		}
	}
	for _, target := range append([]string{"sqlite"}, catalogs...) {
		found := false
		for _, l := range lines {
			if f := strings.Fields(l); len(f) == 7 && f[0] == "sqlite" && f[2] == target {
				if f[3] != commits {
					t.Fatalf("catalog copy row: %q, want %s commits", l, commits)
				}
				found = true
			}
		}
		if !found {
			t.Fatalf("no sqlite → %s row:\n%s", target, out)
		}
	}
}

// TestBenchMigrate: rat bench migrate builds the tables, copies them with
// rat migrate and with the plain copy, copies a catalog, prints both tables
// and leaves nothing at the target; bad sizes are refused.
func TestBenchMigrate(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	target := t.TempDir()
	out := u.ok("bench", "migrate", "--sizes", "4MiB,8MiB", "--commits", "50", "--workers", "3", "--to-warehouse", target)
	checkBenchMigrate(t, out, []string{"4.0 MiB", "8.0 MiB"}, "50")
	if left, err := os.ReadDir(target); err != nil || len(left) != 0 {
		t.Fatalf("the target holds %d entries after the bench (%v)", len(left), err)
	}
	u.fails("at least 1 MiB", "bench", "migrate", "--size", "10KB")
	u.fails("not both", "bench", "migrate", "--size", "8MiB", "--sizes", "1,2")
}

// TestBenchMigrateS3: the same with an S3 target, and the catalog copied
// into a scratch Postgres database too; the prefix is empty and the
// scratch database gone afterwards.
func TestBenchMigrateS3(t *testing.T) {
	t.Parallel()
	pg := testenv.Postgres(t)
	s3 := testenv.S3(t)
	s3Bucket(t, s3)
	u := newUser(t, false)
	u.env = append(u.env, "S3_ENDPOINT="+s3.Endpoint, "S3_ACCESS_KEY="+s3.AccessKey, "S3_SECRET_KEY="+s3.SecretKey,
		"S3_REGION="+s3.Region, "S3_PATH_STYLE=path")
	out := u.ok("bench", "migrate", "--size", "8MiB", "--commits", "20", "--to-warehouse", "s3://"+s3.Bucket+"/"+s3.Prefix,
		"--postgres", pg)
	checkBenchMigrate(t, out, []string{"8.0 MiB"}, "20", "postgres")
	noScratchDatabases(t, pg, "rat_bench_migrate_")
	st, err := objstore.NewS3(context.Background(), objstore.S3Config{Endpoint: s3.Endpoint, Region: s3.Region,
		AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket, Prefix: s3.Prefix, PathStyle: "path"})
	if err != nil {
		t.Fatal(err)
	}
	left, err := st.List(context.Background(), "")
	if err != nil || len(left) != 0 {
		t.Fatalf("%d objects left under the target prefix (%v)", len(left), err)
	}
}
