package objstore

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratdata/rat"
)

// Cache is a size-bounded local copy of immutable objects of a remote store,
// so that DuckDB (which reads local files only) can read them. Iceberg data and
// manifest files never change once written, so a cached copy is always right.
//
// Files are named after a hash of the object's URL plus its extension, live in
// one directory, and are evicted least recently used first. A restart keeps
// the cache: NewCache indexes what the directory holds, by modification time.
// The directory may be shared by several processes.
type Cache struct {
	store Store
	dir   string
	max   int64

	mu       sync.Mutex
	entries  map[string]*list.Element // file name -> element holding *cacheEntry
	lru      *list.List               // front = most recently used
	bytes    int64
	inflight map[string]*download

	hits, misses atomic.Int64
}

type cacheEntry struct {
	name string
	size int64
}

// download is one fetch in progress; callers for the same file wait on done.
type download struct {
	done chan struct{}
	err  error
}

// staleTemp is how old a temp file in the cache directory must be before
// NewCache removes it: younger ones may belong to another process's download.
const staleTemp = time.Hour

// NewCache returns a cache of store's objects in dir holding at most maxBytes
// (a single object larger than that is still cached while it is the newest).
func NewCache(store Store, dir string, maxBytes int64) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, rat.Errorf(rat.EINVALID, "cache %s: size %d bytes: want a positive size", dir, maxBytes)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cache %s: %w", dir, err)
	}
	c := &Cache{
		store:    store,
		dir:      dir,
		max:      maxBytes,
		entries:  map[string]*list.Element{},
		lru:      list.New(),
		inflight: map[string]*download{},
	}
	if err := c.index(); err != nil {
		return nil, err
	}
	return c, nil
}

// index loads the files already in the directory, oldest first, and evicts
// down to the size bound.
func (c *Cache) index() error {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return fmt.Errorf("read cache %s: %w", c.dir, err)
	}
	type found struct {
		name  string
		size  int64
		mtime time.Time
	}
	var files []found
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if strings.HasPrefix(de.Name(), tempPrefix) {
			if time.Since(fi.ModTime()) > staleTemp {
				os.Remove(filepath.Join(c.dir, de.Name())) // left by a crash
			}
			continue
		}
		files = append(files, found{de.Name(), fi.Size(), fi.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mtime.Before(files[j].mtime) })
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range files {
		c.entries[f.name] = c.lru.PushFront(&cacheEntry{name: f.name, size: f.size})
		c.bytes += f.size
	}
	c.evictLocked("")
	return nil
}

// Hits counts Path calls served by a cached file (including callers that
// waited for another caller's download).
func (c *Cache) Hits() int64 { return c.hits.Load() }

// Misses counts downloads.
func (c *Cache) Misses() int64 { return c.misses.Load() }

// Bytes is the total size of the cached files.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// fileName is the cache file for key: a hash of the object's URL (so two
// stores never collide) plus the key's extension, which DuckDB looks at.
func (c *Cache) fileName(key string) string {
	sum := sha256.Sum256([]byte(c.store.URL(key)))
	return hex.EncodeToString(sum[:16]) + safeExt(key)
}

func safeExt(key string) string {
	ext := path.Ext(key)
	if len(ext) < 2 || len(ext) > 16 {
		return ""
	}
	for _, r := range ext[1:] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return ""
		}
	}
	return ext
}

// Path returns a local file holding the full bytes of key. For a store that
// keeps objects on local disk it is the object's own file. Otherwise the
// object is downloaded once (concurrent callers share the download) and kept
// until evicted; the caller should open the file soon.
func (c *Cache) Path(ctx context.Context, key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	if p, ok := c.store.LocalPath(key); ok {
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", notFound(key, c.store.URL(""))
			}
			return "", fmt.Errorf("cache %s: %w", key, err)
		}
		return p, nil
	}
	name := c.fileName(key)
	full := filepath.Join(c.dir, name)
	for {
		c.mu.Lock()
		if el, ok := c.entries[name]; ok {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			// Touch the file: its mtime is its recency after a restart. A
			// failure means another process sharing the directory evicted it.
			now := time.Now()
			if err := os.Chtimes(full, now, now); err == nil {
				c.hits.Add(1)
				return full, nil
			}
			c.mu.Lock()
			if cur, ok := c.entries[name]; ok && cur == el {
				c.removeLocked(el, false)
			}
			c.mu.Unlock()
			continue
		}
		if d, ok := c.inflight[name]; ok {
			c.mu.Unlock()
			select {
			case <-d.done:
			case <-ctx.Done():
				return "", fmt.Errorf("cache %s: %w", key, ctx.Err())
			}
			if d.err == nil {
				c.hits.Add(1)
				return full, nil
			}
			// The downloader's context ended, not ours: try again ourselves.
			if (errors.Is(d.err, context.Canceled) || errors.Is(d.err, context.DeadlineExceeded)) && ctx.Err() == nil {
				continue
			}
			return "", d.err
		}
		d := &download{done: make(chan struct{})}
		c.inflight[name] = d
		c.mu.Unlock()
		c.misses.Add(1)

		d.err = c.fetch(ctx, key, name)
		c.mu.Lock()
		delete(c.inflight, name)
		c.mu.Unlock()
		close(d.done)
		if d.err != nil {
			return "", d.err
		}
		return full, nil
	}
}

// fetch downloads key into a temp file and publishes it as name.
func (c *Cache) fetch(ctx context.Context, key, name string) error {
	src, err := c.store.Open(ctx, key)
	if err != nil {
		return err
	}
	defer src.Close()
	return c.add(name, func(w io.Writer) error {
		if _, err := io.Copy(w, src); err != nil {
			return fmt.Errorf("download %s: %w", c.store.URL(key), err)
		}
		return nil
	})
}

// add writes a new cache file with fill into a temp file, makes it durable
// (a torn cache file would silently corrupt query results after a crash),
// renames it into place and evicts down to the size bound. Renames and
// evictions happen under the lock, so an eviction never removes a file that
// is being published.
func (c *Cache) add(name string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(c.dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("cache %s: %w", c.dir, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cache %s: %w", name, err)
	}
	fi, err := tmp.Stat()
	if err != nil {
		tmp.Close()
		return fmt.Errorf("cache %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cache %s: %w", name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.Rename(tmp.Name(), filepath.Join(c.dir, name)); err != nil {
		return fmt.Errorf("cache %s: %w", name, err)
	}
	if el, ok := c.entries[name]; ok {
		c.removeLocked(el, false) // replaced by the new file
	}
	c.entries[name] = c.lru.PushFront(&cacheEntry{name: name, size: fi.Size()})
	c.bytes += fi.Size()
	c.evictLocked(name)
	return nil
}

// evictLocked removes least recently used files until the total fits, never
// the file named keep.
func (c *Cache) evictLocked(keep string) {
	for c.bytes > c.max {
		el := c.lru.Back()
		if el == nil {
			return
		}
		if el.Value.(*cacheEntry).name == keep {
			if el = el.Prev(); el == nil {
				return
			}
		}
		c.removeLocked(el, true)
	}
}

// removeLocked drops an entry, and its file when deleteFile is set.
func (c *Cache) removeLocked(el *list.Element, deleteFile bool) {
	e := el.Value.(*cacheEntry)
	c.lru.Remove(el)
	delete(c.entries, e.name)
	c.bytes -= e.size
	if deleteFile {
		os.Remove(filepath.Join(c.dir, e.name))
	}
}

// Put uploads localPath to key and keeps a copy in the cache (write-through),
// so reading what was just written needs no download. A store that can take
// the file over (Mover, the local store) gets it moved instead: localPath may
// be gone afterwards.
func (c *Cache) Put(ctx context.Context, key, localPath string) error {
	if m, ok := c.store.(Mover); ok {
		// The store keeps the file itself: nothing to cache.
		return m.MoveFile(ctx, key, localPath)
	}
	if err := c.store.PutFile(ctx, key, localPath); err != nil {
		return err
	}
	if _, ok := c.store.LocalPath(key); ok {
		return nil
	}
	// The upload succeeded; the copy is only an optimization, and a failure
	// to make it (a full cache disk) shows up as a miss on the next read.
	_ = c.add(c.fileName(key), func(w io.Writer) error {
		f, err := os.Open(localPath)
		if err != nil {
			return fmt.Errorf("cache %s: %w", localPath, err)
		}
		defer f.Close()
		if _, err := io.Copy(w, f); err != nil {
			return fmt.Errorf("cache %s: %w", localPath, err)
		}
		return nil
	})
	return nil
}
