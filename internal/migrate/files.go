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
	// source file listed then is at the target, its SHA-256 in the journal.
	FilesPass time.Time `json:"files_pass,omitempty"`
}

// FileStats sums up the warehouse copy.
type FileStats struct {
	Files        int64   `json:"files"` // objects in the source warehouse
	Bytes        int64   `json:"bytes"`
	Copied       int64   `json:"copied"`
	CopiedBytes  int64   `json:"copied_bytes"`
	Skipped      int64   `json:"skipped"` // already at the target with the same size and SHA-256 (read, or recorded)
	SkippedBytes int64   `json:"skipped_bytes"`
	Seconds      float64 `json:"seconds"`
	Resumed      bool    `json:"resumed"` // the target held a partial copy of this migration
	// Trusted are the skipped files that were not read: the journal
	// records their SHA-256 for the source's and the target's current
	// versions (unchanged on both sides since a pass checked them).
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
		if f.Key == MarkerKey || strings.HasPrefix(f.Key, JournalPrefix) {
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
// file streamed through SHA-256 into the target store's Put, which either
// stores every byte it was given or fails (local disk: written, synced and
// its size compared before it is renamed into place; S3: the service checks
// the signed SHA-256 of every chunk of the streamed body, over TLS the
// connection's own integrity, and refuses a body shorter than announced).
// Nothing is read back: the SHA-256 of what was sent is recorded in the
// journal with the target object's version. A file the journal records
// with the source's and the target's current versions is skipped unread;
// one at the target with the expected size but no such record is compared
// by reading both sides and skipped when equal; any other is replaced (the
// stores never expose a partial object). The source is only read.
func copyFiles(parent context.Context, c *copier, files []objstore.Info, workers int, st *FileStats) error {
	ctx, cancel := context.WithCancel(parent)
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
	j := c.j
	stop := tick(time.Second, func() {
		if err := j.flush(ctx); err != nil {
			fail(err)
		}
	})
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, copyBuffer)
			for f := range jobs {
				how, err := c.copy(ctx, f, buf)
				switch {
				case err != nil:
					fail(err)
				case how == copied:
					atomic.AddInt64(&st.Copied, 1)
				default:
					if how == trusted {
						atomic.AddInt64(&st.Trusted, 1)
					}
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
	stop()
	if firstErr != nil {
		_ = j.flush(parent) // what was checked before the failure need not be read again
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return j.compact(ctx)
}

// copyBuffer is the buffer each worker reads through (source and target
// bytes compared on a rerun); uploads stream in the store's own chunks.
const copyBuffer = 256 << 10

// What copier.copy did with a file.
type outcome int

const (
	copied   outcome = iota
	compared         // at the target already: both sides read and compared
	trusted          // at the target already, as the journal records: nothing read
)

// copier copies one file at a time (from several goroutines).
type copier struct {
	src, dst objstore.Store
	rw       *rewriter
	j        *journal
	expect   map[string]string // Options.Expect
	// fresh: the target held nothing when this pass began (no marker), so
	// nothing is looked up there before a copy.
	fresh  bool
	copied *int64 // bytes uploaded, for the progress report
}

// copy brings one file to the target unless it is there already. Files
// rw applies to are rewritten.
func (c *copier) copy(ctx context.Context, f objstore.Info, buf []byte) (outcome, error) {
	rewrite := c.rw.fingerprint(f.Key)
	var have objstore.Info
	var err error
	exists := false
	if !c.fresh {
		have, err = c.dst.Stat(ctx, f.Key)
		exists = err == nil
		if err != nil && !rat.IsCode(err, rat.ENOTFOUND) {
			return 0, fmt.Errorf("look at %s at the target: %w", f.Key, err)
		}
	}
	rec, recorded := c.j.get(f.Key)
	// recorded now: the journal's sum is the target's content.
	recorded = recorded && exists && rec.Size == have.Size && rec.Target == version(have)
	if recorded && rec.Source == version(f) && rec.Rewrite == rewrite {
		return trusted, nil
	}
	sum := FileSum{Source: version(f), Rewrite: rewrite}
	var data []byte // the rewritten content, or nil to stream the source's
	if rewrite != "" {
		var srcSum string
		if data, srcSum, err = c.rw.rewritten(ctx, c.src, f); err != nil {
			return 0, err
		}
		if want, ok := c.expect[f.Key]; ok && srcSum != want {
			return 0, damaged(f.Key, srcSum, want)
		}
		h := sha256.Sum256(data)
		sum.Size, sum.SHA256 = int64(len(data)), hex.EncodeToString(h[:])
	} else {
		sum.Size = f.Size
	}
	if exists && have.Size == sum.Size {
		if sum.SHA256 == "" {
			if sum.SHA256, _, err = checksum(ctx, c.src, f.Key, buf); err != nil {
				return 0, err
			}
			if want, ok := c.expect[f.Key]; ok && sum.SHA256 != want {
				return 0, damaged(f.Key, sum.SHA256, want)
			}
		}
		got := rec.SHA256
		if !recorded {
			if got, _, err = checksum(ctx, c.dst, f.Key, buf); err != nil {
				return 0, err
			}
		}
		if got == sum.SHA256 {
			sum.Target = version(have)
			c.j.put(f.Key, sum)
			return compared, nil
		}
	}
	if data != nil {
		if have, err = c.put(ctx, f.Key, bytes.NewReader(data), sum.Size); err != nil {
			return 0, fmt.Errorf("copy %s to the target: %w", f.Key, err)
		}
		atomic.AddInt64(c.copied, sum.Size)
	} else if sum.SHA256, have, err = c.stream(ctx, f); err != nil {
		return 0, err
	}
	if have.Size != sum.Size {
		return 0, rat.Errorf(rat.EINTERNAL, "copy %s: the target holds %d bytes, %d were sent: run rat migrate again", f.Key, have.Size, sum.Size)
	}
	sum.Target = version(have)
	c.j.put(f.Key, sum)
	return copied, nil
}

// put stores an object at the target and describes what the target
// holds then.
func (c *copier) put(ctx context.Context, key string, r io.Reader, size int64) (objstore.Info, error) {
	if p, ok := c.dst.(objstore.InfoPutter); ok {
		info, err := p.PutInfo(ctx, key, r, size)
		if err != nil || info.ETag != "" {
			return info, err
		}
	} else if err := c.dst.Put(ctx, key, r, size); err != nil {
		return objstore.Info{}, err
	}
	return c.dst.Stat(ctx, key)
}

// stream copies a source file as it is and returns the SHA-256 of the
// bytes sent and what the target holds.
func (c *copier) stream(ctx context.Context, f objstore.Info) (string, objstore.Info, error) {
	in, err := c.src.Open(ctx, f.Key)
	if err != nil {
		return "", objstore.Info{}, fmt.Errorf("read %s from the source: %w", f.Key, err)
	}
	defer in.Close()
	h := sha256.New()
	r := &countingReader{r: io.TeeReader(in, h), n: c.copied, size: in.Size()}
	if want, ok := c.expect[f.Key]; ok {
		// The last byte read fails the upload when the sum is not the one
		// expected: the store then keeps nothing of it.
		r.last = func() error {
			if got := hex.EncodeToString(h.Sum(nil)); got != want {
				return damaged(f.Key, got, want)
			}
			return nil
		}
	}
	have, err := c.put(ctx, f.Key, r, in.Size())
	if err != nil {
		if r.lastErr != nil {
			return "", have, r.lastErr
		}
		return "", have, fmt.Errorf("copy %s to the target: %w", f.Key, err)
	}
	if r.read != in.Size() {
		return "", have, fmt.Errorf("copy %s: read %d bytes of the source's %d", f.Key, r.read, in.Size())
	}
	return hex.EncodeToString(h.Sum(nil)), have, nil
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
// (shared with the progress report). With last set, reading the size-th
// byte calls it, and its error fails the read (lastErr keeps it).
type countingReader struct {
	r       io.Reader
	n       *int64
	read    int64
	size    int64
	last    func() error
	lastErr error
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.read += int64(k)
	atomic.AddInt64(c.n, int64(k))
	if c.last != nil && c.read == c.size && (k > 0 || c.size == 0) {
		if c.lastErr = c.last(); c.lastErr != nil {
			return k, c.lastErr
		}
		c.last = nil
	}
	return k, err
}
