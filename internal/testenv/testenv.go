// Package testenv gives tests their external services: a fresh PostgreSQL
// database and a fresh S3 prefix. Without the RAT_TEST_* variables the tests
// that need them skip (go test ./... works with nothing installed), but under
// CI=true they fail, so CI never passes by skipping. scripts/test.sh starts
// both services and sets the variables.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// hint is how to get the services locally.
const hint = "run scripts/test.sh to start PostgreSQL and MinIO"

// unavailable skips the test, or fails it when CI=true.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: services are required, not skipped)", msg)
	}
	t.Skip(msg)
}

// randomHex returns n random bytes as hex.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random name: %v", err)
	}
	return hex.EncodeToString(b)
}

// Postgres returns the URL of a new, empty database for this test, created
// on the server that RAT_TEST_POSTGRES_URL points at and dropped when the
// test ends. Without the variable the test skips (fails under CI=true).
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("RAT_TEST_POSTGRES_URL")
	if base == "" {
		unavailable(t, "RAT_TEST_POSTGRES_URL not set: run scripts/test.sh to start PostgreSQL")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("RAT_TEST_POSTGRES_URL: want postgres://user@host:port/db?sslmode=disable, got an unparsable value")
	}
	name := "rat_test_" + randomHex(t, 8)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to RAT_TEST_POSTGRES_URL (%s): %v", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	// The name is generated, so quoting is only belt and braces.
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create test database %s on %s: %v", name, u.Redacted(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test database %s: connect: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		// FORCE ends connections the test left open (PostgreSQL 13+).
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})

	db := *u
	db.Path = "/" + name
	db.RawPath = ""
	return db.String()
}

// S3Env describes an S3-compatible service for a test, with a prefix no
// other test uses. The bucket may not exist yet: create it before use (the
// objstore S3 store's EnsureBucket does).
type S3Env struct {
	Endpoint  string // "http://127.0.0.1:9000"; the scheme decides TLS
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
	Prefix    string // "t-<random>/", unique to the test
}

// String describes the environment without the secret key.
func (e S3Env) String() string {
	return fmt.Sprintf("S3Env{Endpoint:%s Region:%s AccessKey:%s Bucket:%s Prefix:%s}",
		e.Endpoint, e.Region, e.AccessKey, e.Bucket, e.Prefix)
}

// GoString is String, so that %#v does not print the secret either.
func (e S3Env) GoString() string { return e.String() }

// S3 returns the S3 service of RAT_TEST_S3_ENDPOINT, RAT_TEST_S3_ACCESS_KEY,
// RAT_TEST_S3_SECRET_KEY, RAT_TEST_S3_BUCKET (default "rat-test") and
// RAT_TEST_S3_REGION (default "us-east-1"), with a fresh prefix. Without the
// endpoint the test skips (fails under CI=true).
func S3(t testing.TB) S3Env {
	t.Helper()
	env := S3Env{
		Endpoint:  os.Getenv("RAT_TEST_S3_ENDPOINT"),
		Region:    os.Getenv("RAT_TEST_S3_REGION"),
		AccessKey: os.Getenv("RAT_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("RAT_TEST_S3_SECRET_KEY"),
		Bucket:    os.Getenv("RAT_TEST_S3_BUCKET"),
	}
	if env.Endpoint == "" {
		unavailable(t, "RAT_TEST_S3_ENDPOINT not set: "+hint)
	}
	if env.AccessKey == "" || env.SecretKey == "" {
		t.Fatalf("RAT_TEST_S3_ENDPOINT is set (%s) but RAT_TEST_S3_ACCESS_KEY or RAT_TEST_S3_SECRET_KEY is empty: set both", env.Endpoint)
	}
	if !strings.HasPrefix(env.Endpoint, "http://") && !strings.HasPrefix(env.Endpoint, "https://") {
		t.Fatalf("RAT_TEST_S3_ENDPOINT %q: want http://host:port or https://host", env.Endpoint)
	}
	if env.Bucket == "" {
		env.Bucket = "rat-test"
	}
	if env.Region == "" {
		env.Region = "us-east-1"
	}
	env.Prefix = "t-" + randomHex(t, 8) + "/"
	return env
}

// Tool returns the path of a command the test needs (kubectl, podman):
// skipped without it, except under CI=true where it fails.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		unavailable(t, name+" not found in PATH: install it to run this test")
	}
	return p
}
