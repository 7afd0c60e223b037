package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/ratdata/rat"
)

// Local is a Store in a directory on local disk. Writes are atomic (temp file,
// fsync, rename, fsync of the directory), so a crash leaves either the old or
// the new content of a key, never a torn file.
type Local struct {
	root string // absolute, cleaned
}

var _ Store = (*Local)(nil)

// NewLocal returns a store rooted at root, creating the directory if needed.
func NewLocal(root string) (*Local, error) {
	if root == "" {
		return nil, rat.Errorf(rat.EINVALID, "local store: root directory is empty: set a warehouse path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create local store %s: %w", abs, err)
	}
	return &Local{root: abs}, nil
}

// Root returns the absolute directory of the store.
func (l *Local) Root() string { return l.root }

// path validates key and returns its file path.
func (l *Local) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	w, err := l.create(key)
	if err != nil {
		return err
	}
	n, err := io.Copy(w.f, r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("read %d bytes, want %d", n, size)
	}
	if err != nil {
		w.abort()
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		w.abort()
		return fmt.Errorf("put %s: %w", key, err)
	}
	return w.commit()
}

// PutFile implements Store. The file is copied, so the caller may remove or
// change it afterwards.
func (l *Local) PutFile(ctx context.Context, key, localPath string) error {
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("put %s from %s: %w", key, localPath, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put %s from %s: %w", key, localPath, err)
	}
	return l.Put(ctx, key, f, fi.Size())
}

// MoveFile implements Mover: the file is renamed into place when it lies on
// the same file system (no copy), else copied. The file is gone afterwards.
func (l *Local) MoveFile(ctx context.Context, key, localPath string) error {
	dest, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return l.mkdirErr(key, err)
	}
	f, err := os.OpenFile(localPath, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("put %s from %s: %w", key, localPath, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("put %s from %s: %w", key, localPath, err)
	}
	if err := os.Rename(localPath, dest); err != nil {
		if !errors.Is(err, syscall.EXDEV) {
			return fmt.Errorf("put %s: %w", key, err)
		}
		if err := l.PutFile(ctx, key, localPath); err != nil {
			return err
		}
		return os.Remove(localPath)
	}
	if err := syncDir(filepath.Dir(dest)); err != nil {
		return fmt.Errorf("put %s: sync directory: %w", key, err)
	}
	return nil
}

// Open implements Store.
func (l *Local) Open(ctx context.Context, key string) (File, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, fi, err := openLocal(p)
	if err != nil {
		return nil, l.mapErr("open", key, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, notFound(key, l.URL(""))
	}
	return f, nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	p, err := l.path(key)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return Info{}, l.mapErr("stat", key, err)
	}
	if fi.IsDir() {
		return Info{}, notFound(key, l.URL(""))
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements Store. Temp files of writes in progress are skipped.
func (l *Local) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	// Walk only the deepest directory the prefix names.
	start := l.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
	}
	out := []Info{}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // the prefix names no directory: no objects
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if strings.HasPrefix(d.Name(), tempPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while listing
		} else if err != nil {
			return err
		}
		out = append(out, Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s in %s: %w", prefix, l.root, err)
	}
	// WalkDir's per-directory order is not key order ("a/b" sorts after "a.b").
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// URL implements Store: "file://" followed by the absolute path.
func (l *Local) URL(key string) string {
	return "file://" + filepath.ToSlash(filepath.Join(l.root, filepath.FromSlash(key)))
}

// Key implements Store. It accepts "file:///abs/path", "file://localhost/abs/path"
// and a plain absolute path.
func (l *Local) Key(location string) (string, bool) {
	p := location
	switch {
	case strings.HasPrefix(p, "file://"):
		p = strings.TrimPrefix(p, "file://")
		p = strings.TrimPrefix(p, "localhost")
	case strings.HasPrefix(p, "file:/"):
		p = strings.TrimPrefix(p, "file:")
	}
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	rootSlash := filepath.ToSlash(l.root)
	rest, ok := strings.CutPrefix(p, strings.TrimSuffix(rootSlash, "/")+"/")
	if !ok || ValidateKey(rest) != nil {
		return "", false
	}
	return rest, true
}

// LocalPath implements Store: every valid key has a path on local disk.
func (l *Local) LocalPath(key string) (string, bool) {
	p, err := l.path(key)
	if err != nil {
		return "", false
	}
	return p, true
}

func (l *Local) mapErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return notFound(key, l.URL(""))
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}

// localFile is an open object of a Local store.
type localFile struct {
	*os.File
	size int64
}

func (f *localFile) Size() int64 { return f.size }

// openLocal opens the file at p with its size.
func openLocal(p string) (*localFile, fs.FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return &localFile{File: f, size: fi.Size()}, fi, nil
}

// atomicWriter writes a new version of a key into a temp file next to it;
// commit publishes it with a rename, abort removes it.
type atomicWriter struct {
	f    *os.File
	dest string
	key  string
}

// create starts an atomic write of key.
func (l *Local) create(key string) (*atomicWriter, error) {
	dest, err := l.path(key)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, l.mkdirErr(key, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("put %s: %w", key, err)
	}
	return &atomicWriter{f: f, dest: dest, key: key}, nil
}

// mkdirErr explains the common case of a file standing where a directory of
// the key has to be ("a" exists, so "a/b" cannot).
func (l *Local) mkdirErr(key string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
		return rat.Errorf(rat.ECONFLICT, "put %s: a parent of this key is an object, not a directory: %w", key, err)
	}
	return fmt.Errorf("put %s: %w", key, err)
}

func (w *atomicWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

// commit makes the written bytes durable and visible under the key.
func (w *atomicWriter) commit() error {
	tmp := w.f.Name()
	if err := w.f.Sync(); err != nil {
		w.abort()
		return fmt.Errorf("put %s: sync: %w", w.key, err)
	}
	if err := w.f.Chmod(0o644); err != nil {
		w.abort()
		return fmt.Errorf("put %s: %w", w.key, err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", w.key, err)
	}
	if err := os.Rename(tmp, w.dest); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("put %s: %w", w.key, err)
	}
	if err := syncDir(filepath.Dir(w.dest)); err != nil {
		return fmt.Errorf("put %s: sync directory: %w", w.key, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
