package cli

import (
	"context"
	"errors"
	"math/big"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// startPG starts rat serve with --pg-listen on a free loopback port and
// returns the Postgres URL it logs, without the database.
func startPG(t *testing.T, u *ratUser, args ...string) string {
	t.Helper()
	return startDaemon(t, u, regexp.MustCompile(`postgres clients on (postgres://127\.0\.0\.1:\d+)/`),
		append([]string{"serve", "--listen", "127.0.0.1:0", "--pg-listen", "127.0.0.1:0"}, args...)...)
}

// pgConnect connects pgx (an independent client) to a database.
func pgConnect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("pgx connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// pgCode is the SQLSTATE of a Postgres error, "" for another error.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// psql runs the real psql client and returns its stdout, stderr and
// whether it succeeded.
func psql(t *testing.T, env []string, url string, args ...string) (string, string, bool) {
	t.Helper()
	cmd := exec.Command("psql", append([]string{"-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", url}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "PGCONNECT_TIMEOUT=30"}, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		t.Fatalf("psql: %v", err)
	}
	return out.String(), errb.String(), err == nil
}

// TestPGWire: rat serve --pg-listen answers pgx and psql with the rows of
// rat's tables, typed, on main and on a branch named as the database or
// with SET rat.branch; writes, unknown tables and unknown branches are
// Postgres errors.
func TestPGWire(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql is not installed (apt-get install postgresql-client)")
	}
	u := newUser(t, false)
	u.write("t.csv", "id,name,amount,ok,day,ts\n1,anna,1.5,true,2024-01-02,2024-01-02 03:04:05\n2,,,,,\n")
	u.ok("load", "t.csv", "--into", "bronze.t")
	u.ok("branch", "create", "dev")
	u.write("more.csv", "id,name,amount,ok,day,ts\n3,carl,2.5,false,2024-02-03,2024-02-03 04:05:06\n")
	u.ok("load", "more.csv", "--into", "bronze.t", "--branch", "dev")
	base := startPG(t, u)
	ctx := context.Background()

	// pgx, extended protocol: values decoded as their Go types, NULLs.
	conn := pgConnect(t, base+"/main")
	rows, err := conn.Query(ctx, "SELECT id, name, amount, ok, day, ts FROM bronze.t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		id     int64
		name   *string
		amount *float64
		ok     *bool
		day    *time.Time
		at     *time.Time
	}
	var got []rec
	for rows.Next() {
		var r rec
		if err := rows.Scan(&r.id, &r.name, &r.amount, &r.ok, &r.day, &r.at); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("main has %d rows, want 2", len(got))
	}
	r := got[0]
	if r.id != 1 || r.name == nil || *r.name != "anna" || r.amount == nil || *r.amount != 1.5 || r.ok == nil || !*r.ok ||
		r.day == nil || r.day.Format(time.DateOnly) != "2024-01-02" || r.at == nil || r.at.Format(time.DateTime) != "2024-01-02 03:04:05" {
		t.Errorf("row 1 = %+v", r)
	}
	if n := got[1]; n.id != 2 || n.name != nil || n.amount != nil || n.ok != nil || n.day != nil || n.at != nil {
		t.Errorf("row 2 should be NULL but for its id: %+v", n)
	}
	descs := rows.FieldDescriptions()
	wantOIDs := []uint32{pgtype.Int8OID, pgtype.TextOID, pgtype.Float8OID, pgtype.BoolOID, pgtype.DateOID, pgtype.TimestampOID}
	for i, d := range descs {
		if d.DataTypeOID != wantOIDs[i] {
			t.Errorf("column %s has type OID %d, want %d", d.Name, d.DataTypeOID, wantOIDs[i])
		}
	}

	// The other types, in pgx's binary format.
	var (
		i2  int16
		i4  int32
		f4  float32
		num pgtype.Numeric
		tz  time.Time
		bin []byte
		iv  string
	)
	err = conn.QueryRow(ctx, `SELECT 7::SMALLINT, 8::INTEGER, 0.5::FLOAT, 12.345::DECIMAL(10,3),
		TIMESTAMPTZ '2024-01-02 03:04:05+00', '\xAB\x01'::BLOB, INTERVAL 1 DAY`).Scan(&i2, &i4, &f4, &num, &tz, &bin, &iv)
	if err != nil {
		t.Fatal(err)
	}
	if i2 != 7 || i4 != 8 || f4 != 0.5 || num.Int.Cmp(big.NewInt(12345)) != 0 || num.Exp != -3 ||
		!tz.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) || string(bin) != "\xab\x01" || iv == "" {
		t.Errorf("types: %d %d %v %v×10^%d %v %x %q", i2, i4, f4, num.Int, num.Exp, tz, bin, iv)
	}

	// The branch from the database name, then from SET rat.branch.
	var n int
	if err := pgConnect(t, base+"/dev").QueryRow(ctx, "SELECT count(*) FROM bronze.t").Scan(&n); err != nil || n != 3 {
		t.Errorf("dev: %d rows, %v; want 3", n, err)
	}
	if _, err := conn.Exec(ctx, "SET rat.branch = 'dev'"); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM bronze.t").Scan(&n); err != nil || n != 3 {
		t.Errorf("after SET rat.branch = 'dev': %d rows, %v; want 3", n, err)
	}
	if _, err := conn.Exec(ctx, "SET rat.branch = 'nope'"); err == nil {
		t.Error("SET rat.branch to an unknown branch succeeded")
	}

	// Refusals, as Postgres errors with their SQLSTATE.
	for query, code := range map[string]string{
		"INSERT INTO bronze.t (id) VALUES (9)": "25006",
		"CREATE TABLE x AS SELECT 1":           "25006",
		"COPY bronze.t TO 'out.csv'":           "25006",
		"ATTACH 'other.db'":                    "25006",
		"SELECT * FROM bronze.nope":            "42P01",
		"SELECT * FROM read_csv('t.csv')":      "42000",
	} {
		_, err := conn.Exec(ctx, query)
		if pgCode(err) != code {
			t.Errorf("%s: error %v (code %q), want code %s", query, err, pgCode(err), code)
		}
	}
	// The connection is still good after an error.
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Errorf("after errors: %v", err)
	}
	// A database that names no branch or tag: every query says so.
	if err := pgConnect(t, base+"/nope").QueryRow(ctx, "SELECT 1").Scan(&n); pgCode(err) != "3D000" || !strings.Contains(err.Error(), `database "nope"`) {
		t.Errorf("database nope: %v, want 3D000", err)
	}

	// psql, simple protocol.
	out, errs, ok := psql(t, nil, base+"/main", "-c", "SELECT id, name, amount FROM bronze.t ORDER BY id")
	if !ok || out != "1|anna|1.5\n2||\n" {
		t.Errorf("psql main: %q %s", out, errs)
	}
	out, errs, ok = psql(t, nil, base+"/dev", "-c", "SELECT count(*) FROM bronze.t")
	if !ok || out != "3\n" {
		t.Errorf("psql dev: %q %s", out, errs)
	}
	if _, errs, ok = psql(t, nil, base+"/main", "-c", "DELETE FROM bronze.t"); ok || !strings.Contains(errs, "only SELECT") {
		t.Errorf("psql DELETE: ok=%v %s", ok, errs)
	}
}

// TestPGWireAuth: off loopback rat serve refuses --pg-listen without
// tokens; with tokens, clients sign in with one as password (role run).
func TestPGWireAuth(t *testing.T) {
	u := newUser(t, false)
	u.fails("--pg-listen: refusing to listen on 0.0.0.0:0 without a token", "serve", "--listen", "127.0.0.1:0", "--pg-listen", "0.0.0.0:0")
	u.fails("--pg-listen \"5433\": want host:port", "serve", "--listen", "127.0.0.1:0", "--pg-listen", "5433")

	u.write("tokens.yaml", "tokens:\n  - {name: dash, token: read-token-0123456789, role: read}\n  - {name: bi, token: run-token-0123456789, role: run}\n")
	u.env = append(u.env, "RAT_TOKEN_FILE=tokens.yaml")
	base := startPG(t, u)
	ctx := context.Background()
	if _, err := pgx.Connect(ctx, base+"/main"); pgCode(err) != "28P01" {
		t.Errorf("no password: %v, want 28P01", err)
	}
	if _, err := pgx.Connect(ctx, "postgres://x:read-token-0123456789@"+strings.TrimPrefix(base, "postgres://")+"/main"); pgCode(err) != "28P01" {
		t.Errorf("read token: %v, want 28P01", err)
	}
	var n int
	conn := pgConnect(t, "postgres://x:run-token-0123456789@"+strings.TrimPrefix(base, "postgres://")+"/main")
	if err := conn.QueryRow(ctx, "SELECT 41 + 1").Scan(&n); err != nil || n != 42 {
		t.Errorf("run token: %d %v", n, err)
	}
	out, errs, ok := psql(t, []string{"PGPASSWORD=run-token-0123456789", "PGUSER=x"}, base+"/main", "-c", "SELECT 'ok'")
	if !ok || out != "ok\n" {
		t.Errorf("psql with a token: %q %s", out, errs)
	}
}

// TestPGWireLimits: a result over max_result_bytes ends in a Postgres
// error (54000) and a cancel request stops a running query (57014).
func TestPGWireLimits(t *testing.T) {
	u := newUser(t, false)
	u.env = append(u.env, "RAT_MAX_RESULT_BYTES=65536")
	base := startPG(t, u)
	ctx := context.Background()
	conn := pgConnect(t, base+"/main")
	rows, err := conn.Query(ctx, "SELECT repeat('x', 1000) AS s FROM range(1000)")
	n := 0
	for err == nil && rows.Next() {
		n++
	}
	if err == nil {
		err = rows.Err()
	}
	if pgCode(err) != "54000" || !strings.Contains(err.Error(), "max_result_bytes") || n >= 1000 {
		t.Errorf("over the cap: %d rows, %v; want error 54000", n, err)
	}
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Errorf("after the cap: %v", err)
	}

	// A query that runs for ages, cancelled with a cancel request.
	done := make(chan error, 1)
	go func() {
		var c int64
		done <- conn.QueryRow(ctx, "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3").Scan(&c)
	}()
	for {
		if err := conn.PgConn().CancelRequest(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if pgCode(err) != "57014" {
				t.Fatalf("cancelled query: %v, want 57014", err)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
