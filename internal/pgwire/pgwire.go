// Package pgwire serves rat's tables to Postgres clients (psql, pgx, BI
// tools): rat serve --pg-listen. Queries are the API's (POST
// /api/v1/query): one read-only SELECT over tables, on a branch or tag,
// with the server's time limit and byte cap (max_result_bytes).
//
// The protocol is github.com/jeroenrinzema/psql-wire: a maintained server
// side of the Postgres wire protocol (startup, TLS upgrade, cleartext
// password, simple and extended query protocols with portals, cancel
// requests) that encodes values with pgx's pgtype, which rat already
// depends on. pgx's pgproto3 only frames messages: the session state
// machine would be ours to write. psql-wire runs a statement's rows as a
// pull iterator on the connection's goroutine, so rows produced on
// DuckDB's threads reach it through a bounded channel: DuckDB waits for a
// slow client and no result is held in memory.
//
// A session's branch is its database name (psql -d dev); "", "rat" and
// "postgres" mean the server's branch. SET rat.branch = 'dev' changes it
// for the session. Clients sign in with a rat API token as password when
// tokens are configured (role run or admin, like POST /api/v1/query);
// without tokens only a loopback address is allowed.
//
// Not done yet (issue 16, item 3):
//   - pg_catalog / information_schema answers for psql \d, \dt and BI
//     tools' introspection (DuckDB's own pg_catalog views answer some);
//   - query parameters ($1) in the extended protocol: queries must be
//     complete SQL;
//   - TLS (psql-wire can: wire.TLSConfig), so off loopback the token goes
//     in clear text unless a TLS proxy is in front;
//   - SET/SHOW of anything but rat.branch, BEGIN/COMMIT (clients that
//     send them get an error), time travel (the API's at);
//   - INTERVAL, TIME, UUID and nested values go as text in rat's own
//     format ("0 months 1 days 0µs"), not Postgres's;
//   - tests with psycopg 3 and npm pg, of a client killed mid-result
//     (the query stops when a write to it fails), of flat memory on a
//     large result;
//   - a benchmark against the HTTP API (rat bench interop).
package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"

	wire "github.com/jeroenrinzema/psql-wire"
	"github.com/jeroenrinzema/psql-wire/codes"
	pgerror "github.com/jeroenrinzema/psql-wire/errors"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/httpauth"
)

// Backend is what the endpoint needs of rat serve's API server
// (internal/server.Server).
type Backend interface {
	DefaultBranch() string
	ResultBytes() int64
	CheckRef(ctx context.Context, ref string) error
	QueryStream(ctx context.Context, ref, query string, head func([]duckdb.Column) error, row func(vals []any) error) error
	AuthRequired() bool
	CheckListen(listen string) error
	SignIn(remote, secret string) error
}

// Server is the Postgres endpoint. Build it with New; Start and Stop own
// the listener.
type Server struct {
	listen string
	b      Backend
	log    *slog.Logger
	wire   *wire.Server

	queries  sync.WaitGroup // the queries running
	mu       sync.Mutex
	addr     net.Addr
	sessions map[int32]*session // by process id (BackendKeyData)
	byRemote map[string]*session
}

// session is one client connection: its key for cancel requests and
// the cancel of its running query.
type session struct {
	pid, secret int32
	remote      string
	mu          sync.Mutex
	cancel      context.CancelFunc
}

// New checks listen (host:port: off loopback only with tokens) and
// builds the endpoint.
func New(listen string, b Backend, log *slog.Logger) (*Server, error) {
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return nil, rat.Errorf(rat.EINVALID, "--pg-listen %q: want host:port, for example 127.0.0.1:5433", listen)
	}
	if !httpauth.IsLoopback(listen) && !b.AuthRequired() {
		return nil, rat.Errorf(rat.EINVALID, "--pg-listen: refusing to listen on %s without a token: set RAT_API_TOKEN or RAT_TOKEN_FILE (clients send a token as their password), or listen on a loopback address such as 127.0.0.1:5433", listen)
	}
	if err := b.CheckListen(listen); err != nil {
		return nil, fmt.Errorf("--pg-listen: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{listen: listen, b: b, log: log, sessions: map[int32]*session{}, byRemote: map[string]*session{}}
	opts := []wire.OptionFn{
		wire.Logger(log.With("listener", "postgres")),
		wire.Version("16.0 (rat)"),
		wire.BackendKeyData(s.keyData),
		wire.CancelRequest(s.cancelRequest),
		wire.SessionMiddleware(s.startSession),
		wire.CloseConn(s.endSession),
	}
	if b.AuthRequired() {
		opts = append(opts, wire.SessionAuthStrategy(wire.ClearTextPassword(s.signIn)))
	}
	srv, err := wire.NewServer(s.parse, opts...)
	if err != nil {
		return nil, fmt.Errorf("postgres endpoint: %w", err)
	}
	s.wire = srv
	return s, nil
}

// Start listens and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.listen)
	if err != nil {
		return rat.Errorf(rat.EUNAVAILABLE, "--pg-listen %s: %w", s.listen, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	go func() {
		if err := s.wire.Serve(ln); err != nil {
			s.log.Error("postgres endpoint", "err", err)
		}
	}()
	return nil
}

// Addr is the address Start listens on (useful with port 0), or nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop stops accepting connections and lets the running queries finish
// until ctx is done, then cancels those still running and returns. Idle
// sessions end with the process.
func (s *Server) Stop(ctx context.Context) error {
	err := s.wire.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.queries.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for _, ss := range s.sessions {
			ss.stop()
		}
		s.mu.Unlock()
		// Not waiting again: a query may be stuck writing to a client
		// that does not read.
	}
	return err
}

// signIn takes a rat token as password; the user name is not checked.
func (s *Server) signIn(ctx context.Context, database, user, password string) (context.Context, bool, error) {
	remote := ""
	if a := wire.RemoteAddress(ctx); a != nil {
		remote = a.String()
	}
	if err := s.b.SignIn(remote, password); err != nil {
		s.log.Info("postgres sign-in refused", "remote", remote, "user", user, "err", rat.ErrorMessage(err))
		return ctx, false, nil
	}
	return ctx, true, nil
}

// keyData gives a new connection its cancel key.
func (s *Server) keyData(ctx context.Context) (int32, int32) {
	ss := &session{secret: random31()}
	if a := wire.RemoteAddress(ctx); a != nil {
		ss.remote = a.String()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		ss.pid = random31()
		if _, taken := s.sessions[ss.pid]; !taken && ss.pid != 0 {
			break
		}
	}
	s.sessions[ss.pid] = ss
	s.byRemote[ss.remote] = ss
	return ss.pid, ss.secret
}

func random31() int32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return int32(binary.BigEndian.Uint32(b[:]) & 0x7fffffff)
}

type sessionKey struct{}

// startSession puts the connection's session into its context.
func (s *Server) startSession(ctx context.Context) (context.Context, error) {
	if a := wire.RemoteAddress(ctx); a != nil {
		s.mu.Lock()
		ss := s.byRemote[a.String()]
		s.mu.Unlock()
		if ss != nil {
			ctx = context.WithValue(ctx, sessionKey{}, ss)
		}
	}
	return ctx, nil
}

// endSession forgets a closed connection.
func (s *Server) endSession(ctx context.Context) error {
	ss, _ := ctx.Value(sessionKey{}).(*session)
	if ss == nil {
		return nil
	}
	ss.stop()
	s.mu.Lock()
	delete(s.sessions, ss.pid)
	if s.byRemote[ss.remote] == ss {
		delete(s.byRemote, ss.remote)
	}
	s.mu.Unlock()
	return nil
}

// cancelRequest cancels the running query of the session the key names.
func (s *Server) cancelRequest(ctx context.Context, pid, secret int32) error {
	s.mu.Lock()
	ss := s.sessions[pid]
	s.mu.Unlock()
	if ss == nil || subtle.ConstantTimeEq(ss.secret, secret) != 1 {
		return nil // as Postgres: no answer either way
	}
	ss.stop()
	return nil
}

// running sets the cancel of the session's query (nil when none runs).
func (ss *session) running(cancel context.CancelFunc) {
	if ss == nil {
		return
	}
	ss.mu.Lock()
	ss.cancel = cancel
	ss.mu.Unlock()
}

// stop cancels the session's running query, if any.
func (ss *session) stop() {
	ss.mu.Lock()
	if ss.cancel != nil {
		ss.cancel()
	}
	ss.mu.Unlock()
}

// branchAttr is the session attribute SET rat.branch sets.
const branchAttr = "rat.branch"

// branch is the ref a session's queries run on.
func (s *Server) branch(ctx context.Context) string {
	if v, ok := wire.GetAttribute(ctx, branchAttr); ok {
		return v.(string)
	}
	switch db := wire.ClientParameters(ctx)[wire.ParamDatabase]; db {
	case "", "rat", "postgres":
		return s.b.DefaultBranch()
	default:
		return db
	}
}

// setBranch matches SET [SESSION] rat.branch = 'name' (or TO name).
var setBranch = regexp.MustCompile(`(?is)^\s*SET\s+(?:SESSION\s+)?rat\.branch\s*(?:=|\sTO\s)\s*'?([A-Za-z0-9._/-]+)'?\s*;?\s*$`)

// parse prepares one statement: SET rat.branch, or a query, whose
// columns it reads without running it.
func (s *Server) parse(ctx context.Context, q wire.Query) (wire.PreparedStatements, error) {
	if m := setBranch.FindStringSubmatch(q.Query); m != nil {
		ref := m[1]
		if err := s.b.CheckRef(ctx, ref); err != nil {
			return nil, pgError(s.log, err, codes.InvalidParameterValue)
		}
		return wire.Prepared(wire.NewStatement(func(ctx context.Context, w wire.DataWriter, _ []wire.Parameter) error {
			wire.SetAttribute(ctx, branchAttr, ref)
			return w.Complete("SET")
		})), nil
	}
	ref := s.branch(ctx)
	if err := s.b.CheckRef(ctx, ref); err != nil {
		return nil, pgError(s.log, fmt.Errorf("database %q: %w (the database name is a rat branch or tag)", ref, err), codes.InvalidCatalogName)
	}
	var cols []duckdb.Column
	err := s.b.QueryStream(ctx, ref, q.Query, func(c []duckdb.Column) error {
		cols = c
		return errDescribed
	}, nil)
	if !errors.Is(err, errDescribed) {
		return nil, pgError(s.log, err, "")
	}
	columns := make(wire.Columns, len(cols))
	oids := make([]uint32, len(cols))
	for i, c := range cols {
		oids[i] = typeOID(c.Type)
		columns[i] = wire.Column{Name: c.Name, Oid: oids[i], Width: -1, TypeModifier: -1}
	}
	return wire.Prepared(wire.NewStatement(func(ctx context.Context, w wire.DataWriter, _ []wire.Parameter) error {
		return s.execute(ctx, ref, q.Query, cols, oids, w)
	}, wire.WithColumns(columns))), nil
}

// errDescribed stops a query once its columns are known.
var errDescribed = errors.New("pgwire: described")

// batchRows is how many rows go from DuckDB to the connection at a time.
const batchRows = 256

// execute runs a prepared query and streams its rows. DuckDB produces
// them on its own threads (QueryStream runs in a goroutine here); the
// connection's goroutine writes them, batchRows at a time through a
// channel of a few batches, so DuckDB waits when the client reads slowly.
func (s *Server) execute(ctx context.Context, ref, query string, cols []duckdb.Column, oids []uint32, w wire.DataWriter) error {
	s.queries.Add(1)
	defer s.queries.Done()
	ctx, cancel := context.WithCancel(ctx)
	ss, _ := ctx.Value(sessionKey{}).(*session)
	ss.running(cancel)
	defer ss.running(nil)
	batches := make(chan [][]any, 4)
	done := make(chan error, 1)
	max := s.b.ResultBytes()
	go func() {
		defer close(batches)
		var batch [][]any
		var size int64
		send := func() error {
			select {
			case batches <- batch:
				batch = make([][]any, 0, batchRows)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err := s.b.QueryStream(ctx, ref, query, func(got []duckdb.Column) error {
			if !sameColumns(got, cols) {
				return rat.Errorf(rat.ECONFLICT, "the query's columns changed since it was prepared (a table changed on %s): prepare it again", ref)
			}
			return nil
		}, func(vals []any) error {
			row := make([]any, len(vals))
			for i, v := range vals {
				size += valueSize(v)
				pv, err := pgValue(oids[i], v)
				if err != nil {
					return err
				}
				row[i] = pv
			}
			if size > max {
				return pgerror.WithCode(rat.Errorf(rat.EINVALID, "the result is over the server's result size cap of %d bytes (max_result_bytes): select fewer or smaller columns, aggregate, or add a LIMIT", max), codes.ProgramLimitExceeded)
			}
			batch = append(batch, row)
			if len(batch) == batchRows {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		done <- err
	}()
	var writeErr error
	for b := range batches {
		if writeErr == nil {
			// Whole batches: psql-wire frames them together, and
			// yields once a batch on an unlimited Execute.
			writeErr = wire.WriteRows(w, b)
		}
		if writeErr != nil {
			cancel() // the producer stops at its next send
		}
	}
	err := <-done
	cancelled := ctx.Err() != nil // by a cancel request, or Stop
	cancel()
	if writeErr != nil {
		return writeErr
	}
	if err != nil && cancelled {
		return pgerror.WithCode(errors.New("canceling statement due to user request"), codes.QueryCanceled)
	}
	if err != nil {
		return pgError(s.log, err, "")
	}
	return w.Complete(fmt.Sprintf("SELECT %d", w.Written()))
}

func sameColumns(a, b []duckdb.Column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// pgError is a rat error as a Postgres error with a SQLSTATE: code when
// given, else one from the rat error code and message. Internal errors
// are logged and sent without their detail.
func pgError(log *slog.Logger, err error, code codes.Code) error {
	if c := pgerror.GetCode(err); c != codes.Uncategorized && c != "" {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return pgerror.WithCode(errors.New("canceling statement due to user request"), codes.QueryCanceled)
	}
	msg := rat.ErrorMessage(err)
	if code == "" {
		switch rat.ErrorCode(err) {
		case rat.ENOTFOUND:
			code = codes.UndefinedTable
		case rat.EINVALID:
			switch {
			case strings.Contains(msg, duckdb.ReadOnlyHint), strings.Contains(msg, duckdb.CopyHint):
				code = codes.ReadOnlySQLTransaction
			case strings.Contains(msg, "Catalog Error"):
				code = codes.UndefinedTable
			default:
				code = codes.SyntaxErrorOrAccessRuleViolation
			}
		case rat.EUNAUTHORIZED:
			code = codes.InsufficientPrivilege
		case rat.ECONFLICT:
			code = codes.SerializationFailure
		case rat.EUNAVAILABLE:
			code = codes.ConnectionFailure
		default:
			log.Error("postgres endpoint: query failed", "err", err)
			return pgerror.WithCode(errors.New("internal error: see the server's log"), codes.Internal)
		}
	}
	return pgerror.WithCode(errors.New(msg), code)
}
