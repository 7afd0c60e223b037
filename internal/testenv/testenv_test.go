package testenv_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ratdata/rat/internal/testenv"
)

// fakeTB records Skip and Fatal and stops the goroutine, as testing does.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatal(args ...any) { f.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.fatal = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, a ...any) {
	f.skipped = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fakeTB) Cleanup(func())                  {}
func (f *fakeTB) Errorf(format string, a ...any)  { f.fatal = fmt.Sprintf(format, a...) }
func (f *fakeTB) Logf(format string, args ...any) {}

func call(t *testing.T, fn func(testing.TB)) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestMissingServicesSkipOrFailUnderCI(t *testing.T) {
	helpers := map[string]func(testing.TB){
		"Postgres": func(tb testing.TB) { testenv.Postgres(tb) },
		"S3":       func(tb testing.TB) { testenv.S3(tb) },
		"Chromium": func(tb testing.TB) { testenv.Chromium(tb) },
	}
	for name, fn := range helpers {
		t.Run(name, func(t *testing.T) {
			t.Setenv("RAT_TEST_POSTGRES_URL", "")
			t.Setenv("RAT_TEST_S3_ENDPOINT", "")
			t.Setenv("RAT_TEST_CHROMIUM", "")
			t.Setenv("PATH", t.TempDir()) // no chromium to find

			t.Setenv("CI", "")
			f := call(t, fn)
			if f.fatal != "" || !strings.Contains(f.skipped, "not set") || !strings.Contains(f.skipped, "scripts/test.sh") {
				t.Errorf("without CI: skipped=%q fatal=%q, want a skip that names scripts/test.sh", f.skipped, f.fatal)
			}

			t.Setenv("CI", "true")
			f = call(t, fn)
			if f.skipped != "" || !strings.Contains(f.fatal, "CI=true") {
				t.Errorf("under CI=true: skipped=%q fatal=%q, want a failure", f.skipped, f.fatal)
			}
		})
	}
}

func TestS3Defaults(t *testing.T) {
	t.Setenv("RAT_TEST_S3_ENDPOINT", "http://127.0.0.1:9")
	t.Setenv("RAT_TEST_S3_ACCESS_KEY", "access")
	t.Setenv("RAT_TEST_S3_SECRET_KEY", "very-secret-value")
	t.Setenv("RAT_TEST_S3_BUCKET", "")
	t.Setenv("RAT_TEST_S3_REGION", "")
	a, b := testenv.S3(t), testenv.S3(t)
	if a.Bucket != "rat-test" || a.Region != "us-east-1" || a.Endpoint != "http://127.0.0.1:9" {
		t.Errorf("S3 = %v, want bucket rat-test, region us-east-1 and the endpoint", a)
	}
	if !regexp.MustCompile(`^t-[0-9a-f]{16}/$`).MatchString(a.Prefix) || a.Prefix == b.Prefix {
		t.Errorf("prefixes %q and %q: want distinct t-<random>/ prefixes", a.Prefix, b.Prefix)
	}
	for _, s := range []string{a.String(), fmt.Sprintf("%v %+v %#v", a, a, a)} {
		if strings.Contains(s, "very-secret-value") {
			t.Errorf("formatted S3Env shows the secret key: %s", s)
		}
	}

	t.Setenv("RAT_TEST_S3_SECRET_KEY", "")
	if f := call(t, func(tb testing.TB) { testenv.S3(tb) }); !strings.Contains(f.fatal, "RAT_TEST_S3_SECRET_KEY") {
		t.Errorf("endpoint without keys: fatal=%q, want a failure naming the variables", f.fatal)
	}
}

func TestPostgresGivesEachTestItsOwnDatabase(t *testing.T) {
	var first, second string
	t.Run("first", func(t *testing.T) {
		first = testenv.Postgres(t)
		second = testenv.Postgres(t)
		if first == second {
			t.Fatalf("two calls returned the same database %s", first)
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, first)
		if err != nil {
			t.Fatalf("connect to the test database: %v", err)
		}
		// conn stays open on purpose: the drop at cleanup must end it.
		var db string
		if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(db, "rat_test_") {
			t.Errorf("current_database() = %q, want rat_test_<random>", db)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("fresh database has %d tables, want 0", n)
		}
		if _, err := conn.Exec(ctx, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
			t.Fatalf("write to the test database: %v", err)
		}
	})
	if first == "" {
		return // skipped
	}
	// Cleanup of the subtest dropped both databases.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, os.Getenv("RAT_TEST_POSTGRES_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, dsn := range []string{first, second} {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(u.Path, "/")
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after the test ended", name)
		}
	}
}
