package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	icebergio "github.com/apache/iceberg-go/io"
	"github.com/ratdata/rat"
)

// IcebergIO adapts s to iceberg-go's file IO. Names are full locations as
// produced by s.URL ("s3://bucket/prefix/key", "file:///abs/key"); a location
// outside the store's root is a rat.EINVALID error that names it.
//
// Besides icebergio.IO it implements ReadFileIO, WriteFileIO (writes become
// visible atomically on Close), StatIO, ListableIO (for orphan cleanup) and
// BulkRemovableIO.
func IcebergIO(s Store) icebergio.IO { return &storeIO{s: s} }

// IcebergIOWithCache is IcebergIO whose reads of immutable files ("*.parquet"
// data files and "*.avro" manifests) go through c, and whose writes of such
// files are kept in c.
func IcebergIOWithCache(s Store, c *Cache) icebergio.IO { return &storeIO{s: s, c: c} }

type storeIO struct {
	s Store
	c *Cache
}

var (
	_ icebergio.ReadFileIO      = (*storeIO)(nil)
	_ icebergio.WriteFileIO     = (*storeIO)(nil)
	_ icebergio.StatIO          = (*storeIO)(nil)
	_ icebergio.ListableIO      = (*storeIO)(nil)
	_ icebergio.BulkRemovableIO = (*storeIO)(nil)
)

// key maps a location to a key of the store.
func (sio *storeIO) key(name string) (string, error) {
	k, ok := sio.s.Key(name)
	if !ok {
		return "", rat.Errorf(rat.EINVALID, "location %s is outside the warehouse %s: table files must live under the warehouse root",
			name, sio.s.URL(""))
	}
	return k, nil
}

// cached reports whether key's reads and writes go through the cache.
func (sio *storeIO) cached(key string) bool {
	if sio.c == nil {
		return false
	}
	// All three are written once under unique names and never change.
	ext := path.Ext(key)
	return ext == ".parquet" || ext == ".avro" || strings.HasSuffix(key, ".metadata.json")
}

// Open implements icebergio.IO.
func (sio *storeIO) Open(name string) (icebergio.File, error) {
	key, err := sio.key(name)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if sio.cached(key) {
		return sio.openCached(ctx, name, key)
	}
	f, err := sio.s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	return &ioFile{File: f, name: path.Base(key)}, nil
}

// openCached opens the cached copy of key. Another caller may evict the file
// between Path and open: then it is fetched again, once.
func (sio *storeIO) openCached(ctx context.Context, name, key string) (icebergio.File, error) {
	for attempt := 0; ; attempt++ {
		p, err := sio.c.Path(ctx, key)
		if err != nil {
			return nil, err
		}
		f, fi, err := openLocal(p)
		if errors.Is(err, fs.ErrNotExist) && attempt == 0 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		return &ioFile{File: f, name: path.Base(key), mtime: fi.ModTime()}, nil
	}
}

// ReadFile implements icebergio.ReadFileIO.
func (sio *storeIO) ReadFile(name string) ([]byte, error) {
	f, err := sio.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := f.(*ioFile).Size()
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// Create implements icebergio.WriteFileIO. Bytes go to a local temp file and
// are stored when the writer is closed, so readers never see a partial file.
func (sio *storeIO) Create(name string) (icebergio.FileWriter, error) {
	key, err := sio.key(name)
	if err != nil {
		return nil, err
	}
	if l, ok := localStore(sio.s); ok {
		// Write in place next to the destination: one copy, renamed on Close.
		w, err := l.create(key)
		if err != nil {
			return nil, err
		}
		return &localWriter{w: w}, nil
	}
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp("", "rat-upload-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return &uploadWriter{File: tmp, sio: sio, key: key}, nil
}

// localStore returns the local store s is, or that the location provider s
// wraps.
func localStore(s Store) (*Local, bool) {
	if l, ok := s.(*Locations); ok {
		s = l.Store
	}
	l, ok := s.(*Local)
	return l, ok
}

// WriteFile implements icebergio.WriteFileIO.
func (sio *storeIO) WriteFile(name string, p []byte) error {
	key, err := sio.key(name)
	if err != nil {
		return err
	}
	return sio.s.Put(context.Background(), key, bytes.NewReader(p), int64(len(p)))
}

// Remove implements icebergio.IO.
func (sio *storeIO) Remove(name string) error {
	key, err := sio.key(name)
	if err != nil {
		return err
	}
	return sio.s.Delete(context.Background(), key)
}

// DeleteFiles implements icebergio.BulkRemovableIO.
func (sio *storeIO) DeleteFiles(ctx context.Context, paths []string) ([]string, error) {
	deleted := make([]string, 0, len(paths))
	var errs []error
	for _, p := range paths {
		key, err := sio.key(p)
		if err == nil {
			err = sio.s.Delete(ctx, key)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, p)
	}
	return deleted, errors.Join(errs...)
}

// Stat implements icebergio.StatIO.
func (sio *storeIO) Stat(name string) (fs.FileInfo, error) {
	key, err := sio.key(name)
	if err != nil {
		return nil, err
	}
	info, err := sio.s.Stat(context.Background(), key)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: path.Base(key), size: info.Size, mtime: info.ModTime}, nil
}

// WalkDir implements icebergio.ListableIO. Object stores have no directories:
// fn sees root (as a directory) and then every object under it, in key order,
// as full locations. fs.SkipDir returned for an object skips the rest of its
// "directory" (its key prefix up to the last slash); fs.SkipAll stops.
func (sio *storeIO) WalkDir(root string, fn fs.WalkDirFunc) error {
	root = strings.TrimSuffix(root, "/")
	prefix := ""
	if root != strings.TrimSuffix(sio.s.URL(""), "/") {
		key, err := sio.key(root)
		if err != nil {
			return err
		}
		prefix = key + "/"
	}
	if err := fn(root, fs.FileInfoToDirEntry(fileInfo{name: path.Base(root), dir: true}), nil); err != nil {
		if err == fs.SkipDir || err == fs.SkipAll {
			return nil
		}
		return err
	}
	infos, err := sio.s.List(context.Background(), prefix)
	if err != nil {
		return err
	}
	skip := ""
	for _, info := range infos {
		if skip != "" && strings.HasPrefix(info.Key, skip) {
			continue
		}
		fi := fileInfo{name: path.Base(info.Key), size: info.Size, mtime: info.ModTime}
		switch err := fn(sio.s.URL(info.Key), fs.FileInfoToDirEntry(fi), nil); err {
		case nil:
		case fs.SkipDir:
			skip = path.Dir(info.Key) + "/"
		case fs.SkipAll:
			return nil
		default:
			return err
		}
	}
	return nil
}

// ioFile is a File seen through iceberg-go: it adds fs.File's Stat.
type ioFile struct {
	File
	name  string
	mtime time.Time
}

func (f *ioFile) Stat() (fs.FileInfo, error) {
	return fileInfo{name: f.name, size: f.Size(), mtime: f.mtime}, nil
}

// fileInfo is an fs.FileInfo of an object (or, with dir set, of a walk root).
type fileInfo struct {
	name  string
	size  int64
	mtime time.Time
	dir   bool
}

func (fi fileInfo) Name() string       { return fi.name }
func (fi fileInfo) Size() int64        { return fi.size }
func (fi fileInfo) ModTime() time.Time { return fi.mtime }
func (fi fileInfo) IsDir() bool        { return fi.dir }
func (fi fileInfo) Sys() any           { return nil }
func (fi fileInfo) Mode() fs.FileMode {
	if fi.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

// localWriter writes a key of a Local store in place; Close publishes it.
type localWriter struct {
	w      *atomicWriter
	closed bool
}

func (lw *localWriter) Write(p []byte) (int, error)         { return lw.w.f.Write(p) }
func (lw *localWriter) ReadFrom(r io.Reader) (int64, error) { return lw.w.f.ReadFrom(r) }

func (lw *localWriter) Close() error {
	if lw.closed {
		return nil
	}
	lw.closed = true
	return lw.w.commit()
}

// uploadWriter buffers into a local temp file and stores it on Close.
type uploadWriter struct {
	*os.File
	sio    *storeIO
	key    string
	closed bool
}

func (uw *uploadWriter) Close() error {
	if uw.closed {
		return nil
	}
	uw.closed = true
	tmp := uw.File.Name()
	defer os.Remove(tmp)
	if err := uw.File.Close(); err != nil {
		return fmt.Errorf("write %s: %w", uw.sio.s.URL(uw.key), err)
	}
	ctx := context.Background()
	if uw.sio.cached(uw.key) {
		return uw.sio.c.Put(ctx, uw.key, tmp)
	}
	return uw.sio.s.PutFile(ctx, uw.key, tmp)
}
