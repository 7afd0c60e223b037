package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/objstore/objstoretest"
	"github.com/ratdata/rat/internal/testenv"
)

// newS3 returns a store on the test S3 service under a fresh prefix, with
// its bucket created.
func newS3(t *testing.T) *objstore.S3 {
	t.Helper()
	env := testenv.S3(t)
	s, err := objstore.NewS3(context.Background(), s3Config(env))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func s3Config(env testenv.S3Env) objstore.S3Config {
	return objstore.S3Config{
		Endpoint: env.Endpoint, Region: env.Region,
		AccessKey: env.AccessKey, SecretKey: env.SecretKey,
		Bucket: env.Bucket, Prefix: env.Prefix, PathStyle: "path",
	}
}

func TestS3(t *testing.T) {
	testenv.S3(t) // skip (or fail under CI) once, not in every subtest
	objstoretest.Run(t, func(t *testing.T) objstore.Store { return newS3(t) })
}

func TestS3URLAndKey(t *testing.T) {
	s, err := objstore.NewS3(context.Background(), objstore.S3Config{
		Endpoint: "http://127.0.0.1:9000", AccessKey: "a", SecretKey: "b", Bucket: "lake", Prefix: "/ws/prod",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.URL("bronze/x.parquet"); got != "s3://lake/ws/prod/bronze/x.parquet" {
		t.Errorf("URL = %q", got)
	}
	for loc, want := range map[string]string{
		"s3://lake/ws/prod/bronze/x.parquet":  "bronze/x.parquet",
		"s3a://lake/ws/prod/bronze/x.parquet": "bronze/x.parquet",
		"s3://lake/ws/production/x":           "",
		"s3://other/ws/prod/x":                "",
	} {
		if got, ok := s.Key(loc); got != want || ok != (want != "") {
			t.Errorf("Key(%q) = %q, %v; want %q", loc, got, ok, want)
		}
	}
	if _, ok := s.LocalPath("x"); ok {
		t.Error("LocalPath ok for S3, want false")
	}
}

func TestParseS3URL(t *testing.T) {
	for _, tt := range []struct {
		in, bucket, prefix string
		ok                 bool
	}{
		{"s3://bucket/prefix/", "bucket", "prefix/", true},
		{"s3://bucket/a/b", "bucket", "a/b/", true},
		{"s3://bucket", "bucket", "", true},
		{"s3://bucket/", "bucket", "", true},
		{"s3a://bucket/p/", "bucket", "p/", true},
		{"s3:///prefix/", "", "", false},
		{"s3://bucket/a//b/", "", "", false},
		{"s3://bucket/../x", "", "", false},
		{"/local/path", "", "", false},
		{"gs://bucket/p", "", "", false},
	} {
		bucket, prefix, err := objstore.ParseS3URL(tt.in)
		if tt.ok && (err != nil || bucket != tt.bucket || prefix != tt.prefix) {
			t.Errorf("ParseS3URL(%q) = %q, %q, %v; want %q, %q", tt.in, bucket, prefix, err, tt.bucket, tt.prefix)
		}
		if !tt.ok && !rat.IsCode(err, rat.EINVALID) {
			t.Errorf("ParseS3URL(%q) = %q, %q, %v; want EINVALID", tt.in, bucket, prefix, err)
		}
	}
}

const secret = "s3cr3t-never-shown"

func TestS3ConfigErrorsAndRedaction(t *testing.T) {
	good := objstore.S3Config{Endpoint: "https://s3.amazonaws.com", Region: "eu-west-1", AccessKey: "AKIA", SecretKey: secret, Bucket: "bucket"}
	for name, mutate := range map[string]func(*objstore.S3Config){
		"no scheme":       func(c *objstore.S3Config) { c.Endpoint = "127.0.0.1:9000" },
		"ftp scheme":      func(c *objstore.S3Config) { c.Endpoint = "ftp://host" },
		"path":            func(c *objstore.S3Config) { c.Endpoint = "http://host:9000/bucket" },
		"user info":       func(c *objstore.S3Config) { c.Endpoint = "http://AKIA:" + secret + "@host:9000" },
		"path style":      func(c *objstore.S3Config) { c.PathStyle = "dns" },
		"no bucket":       func(c *objstore.S3Config) { c.Bucket = "" },
		"bad bucket":      func(c *objstore.S3Config) { c.Bucket = "Bad_Bucket" },
		"half creds":      func(c *objstore.S3Config) { c.AccessKey = "" },
		"bad prefix":      func(c *objstore.S3Config) { c.Prefix = "a/../b" },
		"temp-ish prefix": func(c *objstore.S3Config) { c.Prefix = ".tmp-x/" },
	} {
		cfg := good
		mutate(&cfg)
		_, err := objstore.NewS3(context.Background(), cfg)
		if !rat.IsCode(err, rat.EINVALID) {
			t.Errorf("%s: NewS3 = %v, want EINVALID", name, err)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error shows the secret: %v", name, err)
		}
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "s3", good)
	for _, s := range []string{good.String(), fmt.Sprintf("%v|%+v|%#v|%s", good, good, good, good), logged.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("formatted config shows the secret: %s", s)
		}
	}
	if !strings.Contains(good.String(), "AKIA") || !strings.Contains(logged.String(), "eu-west-1") {
		t.Errorf("formatted config lost the non-secret fields: %s / %s", good, logged.String())
	}
}

func TestS3UnreachableEndpoint(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := objstore.NewS3(context.Background(), objstore.S3Config{
		Endpoint: "http://" + addr, Region: "us-east-1", AccessKey: "AKIA", SecretKey: secret, Bucket: "bucket",
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(context.Background(), "k")
	if !rat.IsCode(err, rat.EUNAVAILABLE) || !strings.Contains(err.Error(), addr) {
		t.Errorf("Stat on an unreachable endpoint: %v (code %s), want EUNAVAILABLE naming %s", err, rat.ErrorCode(err), addr)
	}
	if err != nil && strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the secret: %v", err)
	}
}

func TestS3WrongCredentials(t *testing.T) {
	env := testenv.S3(t)
	cfg := s3Config(env)
	cfg.SecretKey = secret
	s, err := objstore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(context.Background(), "k")
	if !rat.IsCode(err, rat.EUNAUTHORIZED) || strings.Contains(err.Error(), secret) {
		t.Errorf("Stat with a wrong secret: %v (code %s), want EUNAUTHORIZED without the secret", err, rat.ErrorCode(err))
	}
}

func TestS3MissingBucket(t *testing.T) {
	env := testenv.S3(t)
	cfg := s3Config(env)
	cfg.Bucket = "rat-missing-" + strings.TrimSuffix(strings.TrimPrefix(env.Prefix, "t-"), "/")
	s, err := objstore.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(context.Background(), "k")
	if !rat.IsCode(err, rat.ENOTFOUND) || !strings.Contains(err.Error(), cfg.Bucket) {
		t.Errorf("Stat in a missing bucket: %v, want ENOTFOUND naming the bucket", err)
	}
	// A missing bucket is a configuration error, not a missing object.
	if errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing bucket satisfies fs.ErrNotExist: %v", err)
	}
	// EnsureBucket is idempotent on an existing bucket.
	ok := newS3(t)
	if err := ok.EnsureBucket(context.Background()); err != nil {
		t.Errorf("second EnsureBucket: %v", err)
	}
}
