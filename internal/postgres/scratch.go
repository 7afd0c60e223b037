package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"

	"github.com/jackc/pgx/v5"

	"github.com/ratdata/rat"
)

// ScratchDatabase creates an empty database next to the one url names and
// returns its URL and a function that drops it. Benchmarks use it to start
// from a clean catalog without touching the user's own.
func ScratchDatabase(ctx context.Context, url, prefix string) (string, func(), error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "", nil, rat.Errorf(rat.EINVALID, "the Postgres URL is not valid: %v", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", nil, rat.Errorf(rat.EUNAVAILABLE, "connect to Postgres at %s:%d: %v", cfg.Host, cfg.Port, err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := neturl.Parse(url)
	if err != nil {
		return "", nil, rat.Errorf(rat.EINVALID, "scratch databases need a postgres:// URL")
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.ConnectConfig(context.Background(), cfg)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}
