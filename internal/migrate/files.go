package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
)

// MarkerKey is the object rat migrate writes at the target warehouse before
// it copies anything: it names the source, so that a rerun recognises its
// own partial copy (and continues it) while any other non-empty target is
// refused. Like objstore.RootsKey it cannot be a table's directory.
const MarkerKey = "rat-migrate.json"

// markerFormat is the version of the marker's JSON.
const markerFormat = 1

// maxMarkerBytes caps what is read of a marker (a few hundred bytes).
const maxMarkerBytes = 64 << 10

// marker is what MarkerKey holds.
type marker struct {
	Format  int       `json:"format"`
	Source  string    `json:"source_warehouse"` // the source's root location
	Started time.Time `json:"started"`
	// FilesPass is when the last files pass that finished began: every
	// source file listed then is at the target, checked by SHA-256.
	FilesPass time.Time `json:"files_pass,omitempty"`
}

// FileStats sums up the warehouse copy.
type FileStats struct {
	Files        int64   `json:"files"` // objects in the source warehouse
	Bytes        int64   `json:"bytes"`
	Copied       int64   `json:"copied"`
	CopiedBytes  int64   `json:"copied_bytes"`
	Skipped      int64   `json:"skipped"` // already at the target with the same size and SHA-256
	SkippedBytes int64   `json:"skipped_bytes"`
	Seconds      float64 `json:"seconds"`
	Resumed      bool    `json:"resumed"` // the target held a partial copy of this migration
	// Trusted are the skipped files a catch-up pass did not read: unchanged
	// at the source since an earlier pass checked them at the target.
	Trusted int64 `json:"trusted,omitempty"`
}

// sourceFiles lists every object of the source warehouse: data, delete,
// manifest, metadata and view files, rat-warehouse.json, an S3 warehouse's
// landing area; never a marker of a migration the source was the target of.
func sourceFiles(ctx context.Context, src objstore.Store) ([]objstore.Info, int64, error) {
	all, err := src.List(ctx, "")
	if err != nil {
		return nil, 0, fmt.Errorf("list the source warehouse %s: %w", src.URL(""), err)
	}
	files := all[:0]
	var total int64
	for _, f := range all {
		if f.Key == MarkerKey {
			continue
		}
		files = append(files, f)
		total += f.Size
	}
	return files, total, nil
}

// root is a store's location without the trailing slash.
func root(s objstore.Store) string { return strings.TrimSuffix(s.URL(""), "/") }

// checkTarget refuses a target that is the source (or inside it, or holds
// it), or that is not empty and not a partial copy of this migration.
// found reports a partial copy, m its marker.
func checkTarget(ctx context.Context, src, dst objstore.Store) (m marker, found bool, err error) {
	s, d := root(src), root(dst)
	switch {
	case s == d:
		return m, false, rat.Errorf(rat.EINVALID, "the target warehouse %s is the source warehouse: give another --to-warehouse (or leave it out to keep the warehouse and move only the catalog)", d)
	case strings.HasPrefix(d, s+"/"):
		return m, false, rat.Errorf(rat.EINVALID, "the target warehouse %s lies inside the source warehouse %s: choose a location outside it", d, s)
	case strings.HasPrefix(s, d+"/"):
		return m, false, rat.Errorf(rat.EINVALID, "the target warehouse %s holds the source warehouse %s: choose a location that does not contain it", d, s)
	}
	m, found, err = readMarker(ctx, dst)
	if err != nil {
		return m, false, err
	}
	if found {
		if m.Source != s {
			return m, false, rat.Errorf(rat.ECONFLICT, "the target warehouse %s holds a migration from %s, not from %s: choose an empty location, or remove what is there",
				d, m.Source, s)
		}
		return m, true, nil
	}
	objs, err := dst.List(ctx, "")
	if err != nil {
		return m, false, fmt.Errorf("list the target warehouse %s: %w", d, err)
	}
	if len(objs) > 0 {
		return m, false, rat.Errorf(rat.ECONFLICT, "the target warehouse %s is not empty (%d objects, such as %s) and holds no partial copy of this migration: choose an empty location, or remove what is there",
			d, len(objs), objs[0].Key)
	}
	return m, false, nil
}

func readMarker(ctx context.Context, dst objstore.Store) (marker, bool, error) {
	var m marker
	f, err := dst.Open(ctx, MarkerKey)
	if rat.IsCode(err, rat.ENOTFOUND) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("read %s at the target: %w", MarkerKey, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMarkerBytes))
	if err != nil {
		return m, false, fmt.Errorf("read %s at the target: %w", MarkerKey, err)
	}
	if err := json.Unmarshal(data, &m); err != nil || m.Format != markerFormat || m.Source == "" {
		return m, false, rat.Errorf(rat.ECONFLICT, "%s at the target %s is not a rat migrate marker this version understands: choose an empty location",
			MarkerKey, root(dst))
	}
	return m, true, nil
}

func writeMarker(ctx context.Context, dst objstore.Store, m marker) error {
	data, _ := json.Marshal(m)
	if err := dst.Put(ctx, MarkerKey, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("write %s at the target: %w", MarkerKey, err)
	}
	return nil
}

// copyFiles copies files from src to dst with workers in parallel, each
// file streamed and checked: after the upload the target object is read
// back and its size and SHA-256 compared with what was read from the
// source. A file already at the target with the same size and SHA-256 is
// skipped; any other is replaced (the stores never expose a partial
// object). The source is only read.
// With trustBefore set (a catch-up pass), a file the source has not
// changed since then, and that the target holds with its size, is skipped
// unread: the pass that began then checked it.
func copyFiles(ctx context.Context, src, dst objstore.Store, rw *rewriter, files []objstore.Info, workers int, trustBefore time.Time, st *FileStats) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan objstore.Info)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			for f := range jobs {
				if trusted(ctx, dst, rw, f, trustBefore) {
					atomic.AddInt64(&st.Trusted, 1)
					atomic.AddInt64(&st.Skipped, 1)
					atomic.AddInt64(&st.SkippedBytes, f.Size)
					continue
				}
				copied, err := copyFile(ctx, src, dst, rw, f, buf, &st.CopiedBytes)
				if err != nil {
					fail(err)
					continue
				}
				if copied {
					atomic.AddInt64(&st.Copied, 1)
				} else {
					atomic.AddInt64(&st.Skipped, 1)
					atomic.AddInt64(&st.SkippedBytes, f.Size)
				}
			}
		}()
	}
feed:
	for _, f := range files {
		select {
		case jobs <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// trusted reports whether a catch-up pass may skip f unread: a file that
// is not rewritten nor changed in place (rat-warehouse.json), older at the
// source than the last finished pass, and at the target with its size.
func trusted(ctx context.Context, dst objstore.Store, rw *rewriter, f objstore.Info, before time.Time) bool {
	if before.IsZero() || !f.ModTime.Before(before) || rw.applies(f.Key) || f.Key == objstore.RootsKey {
		return false
	}
	have, err := dst.Stat(ctx, f.Key)
	return err == nil && have.Size == f.Size
}

// copyFile copies one object unless the target holds it already; copied
// counts the bytes uploaded as they go. Files rw applies to are rewritten.
func copyFile(ctx context.Context, src, dst objstore.Store, rw *rewriter, f objstore.Info, buf []byte, copied *int64) (bool, error) {
	if rw.applies(f.Key) {
		return copyRewritten(ctx, src, dst, rw, f, buf, copied)
	}
	if have, err := dst.Stat(ctx, f.Key); err == nil && have.Size == f.Size {
		want, _, err := checksum(ctx, src, f.Key, buf)
		if err != nil {
			return false, err
		}
		got, _, err := checksum(ctx, dst, f.Key, buf)
		if err != nil {
			return false, err
		}
		if got == want {
			return false, nil
		}
	} else if err != nil && !rat.IsCode(err, rat.ENOTFOUND) {
		return false, fmt.Errorf("look at %s at the target: %w", f.Key, err)
	}
	in, err := src.Open(ctx, f.Key)
	if err != nil {
		return false, fmt.Errorf("read %s from the source: %w", f.Key, err)
	}
	defer in.Close()
	h := sha256.New()
	r := &countingReader{r: io.TeeReader(in, h), n: copied}
	if err := dst.Put(ctx, f.Key, r, in.Size()); err != nil {
		return false, fmt.Errorf("copy %s to the target: %w", f.Key, err)
	}
	if r.read != in.Size() {
		return false, fmt.Errorf("copy %s: read %d bytes of the source's %d", f.Key, r.read, in.Size())
	}
	return true, checkCopy(ctx, dst, f.Key, hex.EncodeToString(h.Sum(nil)), in.Size(), buf)
}

// copyRewritten copies a file whose locations are rewritten: the target
// must hold the rewritten bytes.
func copyRewritten(ctx context.Context, src, dst objstore.Store, rw *rewriter, f objstore.Info, buf []byte, copied *int64) (bool, error) {
	data, err := rw.rewritten(ctx, src, f)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(data)
	want, size := hex.EncodeToString(sum[:]), int64(len(data))
	if have, err := dst.Stat(ctx, f.Key); err == nil && have.Size == size {
		if got, _, err := checksum(ctx, dst, f.Key, buf); err != nil {
			return false, err
		} else if got == want {
			return false, nil
		}
	} else if err != nil && !rat.IsCode(err, rat.ENOTFOUND) {
		return false, fmt.Errorf("look at %s at the target: %w", f.Key, err)
	}
	if err := dst.Put(ctx, f.Key, bytes.NewReader(data), size); err != nil {
		return false, fmt.Errorf("copy %s to the target: %w", f.Key, err)
	}
	atomic.AddInt64(copied, size)
	return true, checkCopy(ctx, dst, f.Key, want, size, buf)
}

// checkCopy reads a copied object back and compares its SHA-256 and size.
func checkCopy(ctx context.Context, dst objstore.Store, key, want string, size int64, buf []byte) error {
	got, n, err := checksum(ctx, dst, key, buf)
	if err != nil {
		return err
	}
	if got != want || n != size {
		return rat.Errorf(rat.EINTERNAL, "copy %s: the target holds %d bytes with SHA-256 %s, want %d bytes with %s: run rat migrate again",
			key, n, got, size, want)
	}
	return nil
}

// checksum reads an object through and returns its SHA-256 and size.
func checksum(ctx context.Context, s objstore.Store, key string, buf []byte) (string, int64, error) {
	f, err := s.Open(ctx, key)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", s.URL(key), err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", s.URL(key), err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// countingReader counts what passes through it, in read (its own) and n
// (shared with the progress report).
type countingReader struct {
	r    io.Reader
	n    *int64
	read int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.read += int64(k)
	atomic.AddInt64(c.n, int64(k))
	return k, err
}
