package server

import (
	"context"
	"errors"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/metrics"
)

// What other listeners of rat serve (the Postgres wire endpoint,
// internal/pgwire) need of the API server: its queries, with their
// sandbox and limits, and its tokens.

// DefaultBranch is the branch a query runs on when the client names none.
func (s *Server) DefaultBranch() string { return s.cfg.Branch }

// ResultBytes is the server's cap on one query's answer (max_result_bytes).
func (s *Server) ResultBytes() int64 { return s.cfg.Limits.ResultBytes }

// CheckRef returns an error (rat.ENOTFOUND) unless ref is a branch or tag.
func (s *Server) CheckRef(ctx context.Context, ref string) error {
	_, err := s.cfg.Store.Ref(ctx, ref)
	return err
}

// QueryStream runs one read-only SELECT on ref like POST /api/v1/query:
// the same sandbox (one SELECT, tables only, no files), the server's time
// limit (a rat.EINVALID error once it passed). head gets the columns, row
// each row while DuckDB produces it (vals is reused); an error of either
// stops the query and is returned as it is. A query whose head returns an
// error (it only wanted the columns) is not counted in the metrics. There is no row limit: the
// caller counts bytes against ResultBytes.
func (s *Server) QueryStream(ctx context.Context, ref, query string, head func([]duckdb.Column) error, row func(vals []any) error) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Limits.QueryTimeout)
	defer cancel()
	var headErr error
	err := s.runQuery(ctx, ref, lake.At{}, query, func(cols []duckdb.Column) error {
		headErr = head(cols)
		return headErr
	}, row)
	if headErr == nil {
		// Not a query that stopped at its columns: a client's Describe.
		s.metrics.QueryDone(metrics.QueryPG, time.Since(start))
	}
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return rat.Errorf(rat.EINVALID, "%s", s.timeLimit())
	}
	return err
}

// AuthRequired reports whether clients must sign in with a token: when
// tokens are configured.
func (s *Server) AuthRequired() bool { return s.auth.enabled() }

// CheckListen applies the API's rules for a listen address to another
// listener's: off loopback only with tokens, each long enough.
func (s *Server) CheckListen(listen string) error {
	_, err := newAuthenticator(listen, s.cfg.Tokens)
	return err
}

// SignIn checks a token sent by a client at remote (host:port) for a
// query (role run or admin), with the API's limit on failed attempts per
// client address. The error says what is wrong, never the token.
func (s *Server) SignIn(remote, secret string) error {
	key, now := remoteKey(remote), s.cfg.Now()
	if wait := s.limiter.blocked(key, now); wait > 0 {
		return rat.Errorf(rat.EUNAUTHORIZED, "too many failed sign-ins from this address: try again in %d seconds", int(wait.Seconds()+1))
	}
	t, ok := s.auth.find(secret)
	if !ok {
		s.limiter.fail(key, now)
		s.log.Warn("wrong API token", "remote", remote, "listener", "postgres")
		return rat.Errorf(rat.EUNAUTHORIZED, "wrong token: send a rat API token (role run or admin) as the password")
	}
	if t.role < RoleRun {
		return rat.Errorf(rat.EUNAUTHORIZED, "token %q has role %s: queries need role run or admin", t.name, t.role)
	}
	return nil
}
