package app

import (
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/migrate"
	"github.com/ratdata/rat/internal/objstore"
)

// KillEnv names a failpoint of rat migrate (and rat import) for the tests
// of resumption: the process kills itself with SIGKILL at a chosen point of
// a phase, as a power cut or kill -9 would stop it there.
//
//	files:BYTES   once BYTES bytes were written to the target warehouse in
//	              this run: in the middle of a file, its upload unfinished
//	catalog:N     right after the N-th batch of the catalog copy (or of
//	              its catch-up) committed in this run
//
// Unset, nothing changes. Like every RAT_TEST_ variable it is not part of
// the configuration.
const KillEnv = "RAT_TEST_MIGRATE_KILL"

// killPoints arms the failpoint KillEnv describes, if any.
func (m *Migration) killPoints(env func(string) (string, bool)) error {
	v, ok := env(KillEnv)
	if !ok || v == "" {
		return nil
	}
	phase, n, _ := strings.Cut(v, ":")
	at, err := strconv.ParseInt(n, 10, 64)
	if err != nil || at < 1 || (phase != "files" && phase != "catalog") {
		return rat.Errorf(rat.EINVALID, "%s=%q: want files:BYTES or catalog:BATCHES (a positive number)", KillEnv, v)
	}
	switch {
	case phase == "files" && m.Options.Target.Warehouse != nil:
		m.Options.Target.Warehouse = &killStore{Store: m.Options.Target.Warehouse, left: at}
	case phase == "catalog" && m.Options.Catalog != nil:
		m.Options.Catalog = &killCatalog{CatalogCopier: m.Options.Catalog, left: at}
	}
	return nil
}

// killSelf ends the process with SIGKILL: no deferred call, no cleanup.
func killSelf() {
	p, _ := os.FindProcess(os.Getpid())
	_ = p.Kill()
	select {} // the signal ends the process
}

// killStore is a target warehouse that kills the process once left more
// bytes were written to it.
type killStore struct {
	objstore.Store
	left int64
}

func (s *killStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return s.Store.Put(ctx, key, &killReader{r: r, left: &s.left}, size)
}

type killReader struct {
	r    io.Reader
	left *int64
}

func (k *killReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if atomic.AddInt64(k.left, -int64(n)) <= 0 {
		killSelf()
	}
	return n, err
}

// killCatalog is a catalog copy that kills the process after left batches.
type killCatalog struct {
	migrate.CatalogCopier
	left int64
}

func (c *killCatalog) Copy(ctx context.Context, progress func(table string, done, total int64)) (migrate.CatalogStats, error) {
	return c.CatalogCopier.Copy(ctx, func(table string, done, total int64) {
		if progress != nil {
			progress(table, done, total)
		}
		if atomic.AddInt64(&c.left, -1) == 0 {
			killSelf()
		}
	})
}
