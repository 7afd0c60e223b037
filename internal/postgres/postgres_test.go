package postgres_test

import (
	"context"
	"database/sql"
	neturl "net/url"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/catalog/catalogtest"
	"github.com/ratdata/rat/internal/postgres"
	"github.com/ratdata/rat/internal/testenv"
)

func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Store {
		return open(t, testenv.Postgres(t))
	})
}

func TestShared(t *testing.T) {
	catalogtest.RunShared(t, func(t *testing.T) func() (catalog.Store, error) {
		url := testenv.Postgres(t)
		return func() (catalog.Store, error) { return postgres.Open(context.Background(), url) }
	})
}

func TestAmbiguousPrefix(t *testing.T) {
	url := testenv.Postgres(t)
	s := open(t, url)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	catalogtest.AmbiguousPrefix(t, s, db)
}

func TestUnreachable(t *testing.T) {
	// Port 1 on loopback refuses connections.
	_, err := postgres.Open(t.Context(), "postgres://rat:secret@127.0.0.1:1/rat?sslmode=disable&connect_timeout=2")
	if rat.ErrorCode(err) != rat.EUNAVAILABLE {
		t.Fatalf("Open(unreachable) = %v, want %s", err, rat.EUNAVAILABLE)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestMissingDatabase(t *testing.T) {
	url := testenv.Postgres(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/rat_no_such_database"
	_, err = postgres.Open(t.Context(), u.String())
	if rat.ErrorCode(err) != rat.ENOTFOUND || !strings.Contains(err.Error(), "createdb") {
		t.Fatalf("Open(missing database) = %v, want %s with a hint", err, rat.ENOTFOUND)
	}
}

func TestBadURL(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://rat:secret@127.0.0.1:notaport/rat")
	if rat.ErrorCode(err) != rat.EINVALID || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Open(bad URL) = %v, want %s without the password", err, rat.EINVALID)
	}
}

// BenchmarkCommit measures commits per second of 8×GOMAXPROCS concurrent
// writers (run with -cpu 1 for 8) on distinct tables of one branch.
func BenchmarkCommit(b *testing.B) {
	s := open(b, testenv.Postgres(b))
	catalogtest.BenchCommit(b, s)
}

func TestRunRecords(t *testing.T) {
	catalogtest.RunRecords(t, func(t *testing.T) catalogtest.RunStore {
		return open(t, testenv.Postgres(t))
	})
}

func TestScheduleState(t *testing.T) {
	catalogtest.ScheduleState(t, open(t, testenv.Postgres(t)))
}

func TestWebhookDeliveries(t *testing.T) {
	catalogtest.Deliveries(t, open(t, testenv.Postgres(t)))
}

func TestUISessions(t *testing.T) {
	catalogtest.Sessions(t, open(t, testenv.Postgres(t)))
}

func TestLegacyRunBranches(t *testing.T) {
	url := testenv.Postgres(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	catalogtest.LegacyRunBranches(t, open(t, url), db, func() catalog.Store { return open(t, url) })
}

func TestTriggerKeyRenames(t *testing.T) {
	catalogtest.TriggerKeyRenames(t, open(t, testenv.Postgres(t)))
}

func TestRunOwners(t *testing.T) {
	catalogtest.RunOwners(t, open(t, testenv.Postgres(t)))
}
