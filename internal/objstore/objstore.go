// Package objstore is rat's one interface to bytes at rest: a local directory
// or any S3-compatible bucket. Keys are slash-separated paths relative to the
// store's root ("bronze/sales/data/00001.parquet").
package objstore

import (
	"context"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/ratdata/rat"
)

// Store is an object store rooted at a directory or a bucket prefix.
// Implementations are safe for concurrent use.
//
// Errors: a missing key is a *rat.Error with code rat.ENOTFOUND (and
// errors.Is(err, fs.ErrNotExist) holds); an unreachable service is
// rat.EUNAVAILABLE.
type Store interface {
	// Put writes the object at key from r. Readers never see a partial object:
	// it is either absent, the old content, or the whole new content.
	// size is the length of r, or -1 when unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// PutFile uploads a local file to key (the fast path for data files).
	PutFile(ctx context.Context, key, localPath string) error
	// Open opens key for random access reads.
	Open(ctx context.Context, key string) (File, error)
	// Stat describes key.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns every object whose key starts with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// URL returns the absolute location of key as written into Iceberg metadata:
	// "file:///abs/dir/key" or "s3://bucket/prefix/key".
	URL(key string) string
	// Key maps an absolute location back to a key of this store; ok is false
	// when the location lies outside the store's root.
	Key(location string) (key string, ok bool)
	// LocalPath returns the path of key on local disk when the store keeps
	// objects there (the local store); ok is false for remote stores.
	LocalPath(key string) (path string, ok bool)
}

// Mover is implemented by stores that can take over a local file without
// copying it (the local store renames it into place). After MoveFile the
// file at localPath is gone.
type Mover interface {
	MoveFile(ctx context.Context, key, localPath string) error
}

// InfoPutter is implemented by stores whose Put learns what it stored (S3:
// the ETag of the service's answer), saving a Stat afterwards.
type InfoPutter interface {
	PutInfo(ctx context.Context, key string, r io.Reader, size int64) (Info, error)
}

// File is an open object.
type File interface {
	io.ReadSeekCloser
	io.ReaderAt
	Size() int64
}

// Info describes an object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// ETag is the object's entity tag on S3 (it changes with the content);
	// empty on local disk, where ModTime has nanoseconds.
	ETag string
}

// tempPrefix starts the names of files a store or cache is still writing.
// Such names are never valid keys, and List skips them.
const tempPrefix = ".tmp-"

// ValidateKey checks that key is a relative slash-separated path with no
// empty, "." or ".." segments, no backslash or NUL, and no segment that starts
// with the reserved temp-file prefix ".tmp-". Every Store method that takes a
// key validates it and returns this rat.EINVALID error.
func ValidateKey(key string) error {
	if key == "" {
		return rat.Errorf(rat.EINVALID, "object key is empty: use a relative path such as bronze/sales/data/00001.parquet")
	}
	if strings.HasPrefix(key, "/") {
		return rat.Errorf(rat.EINVALID, "object key %q is absolute: use a path relative to the store root, without the leading /", key)
	}
	if strings.ContainsAny(key, "\\\x00") {
		return rat.Errorf(rat.EINVALID, "object key %q contains a backslash or NUL: use / as the only separator", key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return rat.Errorf(rat.EINVALID, "object key %q has an empty segment (// or a trailing /): remove it", key)
		case seg == "." || seg == "..":
			return rat.Errorf(rat.EINVALID, "object key %q contains %q: keys cannot leave or refer to the store root", key, seg)
		case strings.HasPrefix(seg, tempPrefix):
			return rat.Errorf(rat.EINVALID, "object key %q: names starting with %q are reserved for temporary files", key, tempPrefix)
		}
	}
	return nil
}

// validatePrefix checks a List prefix: empty, or a key prefix that cannot
// escape the root ("bronze/", "bronze/sa").
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := ValidateKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return rat.Errorf(rat.EINVALID, "list prefix %q: %s", prefix, rat.ErrorMessage(err))
	}
	return nil
}

// notFound is the error for a missing key: rat.ENOTFOUND that also satisfies
// errors.Is(err, fs.ErrNotExist).
func notFound(key, where string) error {
	return rat.Errorf(rat.ENOTFOUND, "object %s not found in %s: %w", key, where, fs.ErrNotExist)
}
