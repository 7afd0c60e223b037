package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/ratdata/rat/internal/textout"
)

// MaxUploadBytes is the default cap of a landing upload: one file of rat
// landing upload, one request of the API's upload.
const MaxUploadBytes int64 = 1 << 30

// Landing is the landing area: one directory (or bucket prefix) per zone,
// where raw files arrive before pipelines ingest them. Files remembers each
// file's content hash (and, for a remote store, its local copy) by size,
// modification time and entity tag, so a sensor listing a zone every second
// reads a file once, not on every tick.
type Landing struct {
	Store  objstore.Store // rooted at the landing area
	TmpDir string         // where remote files are downloaded for DuckDB
	// Where names the landing area in messages: "landing/" in a workspace,
	// "s3://bucket/prefix/_landing/" on S3.
	Where string

	mu   sync.Mutex
	seen map[string]seenFile // by key
}

// seenFile is what Files learnt about a landing file.
type seenFile struct {
	info  objstore.Info
	hash  string
	local string
}

// LocalLanding returns the landing area of a workspace on local disk.
func LocalLanding(workspaceDir, tmpDir string) (*Landing, error) {
	s, err := objstore.NewLocal(filepath.Join(workspaceDir, "landing"))
	if err != nil {
		return nil, err
	}
	return &Landing{Store: s, TmpDir: tmpDir, Where: "landing/"}, nil
}

// Dir names a zone of the landing area in messages (zone "": the area).
func (l *Landing) Dir(zone string) string {
	where := l.Where
	if where == "" {
		where = l.Store.URL("")
	}
	if zone == "" {
		return where
	}
	return strings.TrimSuffix(where, "/") + "/" + zone + "/"
}

// ValidateZone checks a landing zone name: a plain name of letters, digits,
// '-' and '_' that starts with a letter or digit (names starting with '_'
// or '.' are kept for rat's own files, such as the .tmp- files of writes in
// progress).
func ValidateZone(zone string) error {
	ok := zone != "" && len(zone) <= 128
	for i, c := range zone {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			ok = false
		}
	}
	if !ok {
		if strings.HasPrefix(zone, "_") || strings.HasPrefix(zone, ".") {
			return rat.Errorf(rat.EINVALID, "landing zone %q: names starting with '_' or '.' are reserved for rat's own files; use a plain name like orders", zone)
		}
		return rat.Errorf(rat.EINVALID, "landing zone %q: use a plain name of letters, digits, '-' and '_' like orders (no '/', no '..')", zone)
	}
	return nil
}

// ValidateFileName checks the name of a file in a landing zone: a plain name
// (no directory, no "..", not hidden) with an extension rat reads.
func ValidateFileName(name string) error {
	if name != strings.TrimSpace(name) || name == "" || strings.ContainsAny(name, "/\\\x00") ||
		strings.HasPrefix(name, ".") || strings.Contains(name, "..") {
		return rat.Errorf(rat.EINVALID, "file name %q: use a plain name such as orders-2024-05-01.csv (no directories, no '..', not hidden)", name)
	}
	if err := objstore.ValidateKey(name); err != nil {
		return rat.Errorf(rat.EINVALID, "file name %q: %s", name, rat.ErrorMessage(err))
	}
	if _, err := Format(name); err != nil && !IsExcel(name) {
		return rat.Errorf(rat.EINVALID, "file name %q: rat reads .csv, .tsv, .json, .ndjson, .parquet and .xlsx files", name)
	}
	return nil
}

// TooLarge is the error for a file over the landing upload limit.
func TooLarge(name string, limit int64) error {
	return rat.Errorf(rat.EINVALID, "%s is larger than the landing upload limit of %s: split it into smaller files", name, textout.Bytes(limit))
}

// Upload stores r as zone/name in the landing area, streaming: at most
// limit bytes (0 or less: no cap, the caller bounds r), refused with
// TooLarge past it. The store writes atomically (a temp file renamed
// into place on disk, one object put on S3), so a reader sees the old file
// or the whole new one, and a failed upload leaves nothing.
func (l *Landing) Upload(ctx context.Context, zone, name string, r io.Reader, limit int64) (int64, error) {
	if err := ValidateZone(zone); err != nil {
		return 0, err
	}
	if err := ValidateFileName(name); err != nil {
		return 0, err
	}
	cr := &capReader{r: r, limit: limit}
	err := l.Store.Put(ctx, zone+"/"+name, cr, -1)
	switch {
	case cr.over:
		return cr.n, TooLarge(name, limit)
	case cr.err != nil:
		return cr.n, fmt.Errorf("read %s: %w", name, cr.err)
	case err != nil:
		return cr.n, fmt.Errorf("upload %s to %s: %w", name, l.Dir(zone), err)
	}
	return cr.n, nil
}

// capReader counts what it reads, fails past limit and keeps the error
// its reader failed with.
type capReader struct {
	r     io.Reader
	limit int64
	n     int64
	over  bool
	err   error
}

var errOverCap = errors.New("over the upload limit")

func (c *capReader) Read(p []byte) (int, error) {
	if c.limit > 0 && int64(len(p)) > c.limit-c.n+1 {
		p = p[:c.limit-c.n+1] // one byte past the limit tells
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.limit > 0 && c.n > c.limit {
		c.over = true
		return n, errOverCap
	}
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

// Check checks that zone/name names a file of the landing area; a
// missing one is a rat.ENOTFOUND error.
func (l *Landing) Check(ctx context.Context, zone, name string) error {
	if err := ValidateZone(zone); err != nil {
		return err
	}
	if err := ValidateFileName(name); err != nil {
		return err
	}
	if _, err := l.Store.Stat(ctx, zone+"/"+name); err != nil {
		if rat.IsCode(err, rat.ENOTFOUND) {
			return rat.Errorf(rat.ENOTFOUND, "no file %s in %s: see 'rat landing list %s'", name, l.Dir(zone), zone)
		}
		return err
	}
	return nil
}

// Remove deletes zone/name from the landing area; a missing file is a
// rat.ENOTFOUND error.
func (l *Landing) Remove(ctx context.Context, zone, name string) error {
	if err := l.Check(ctx, zone, name); err != nil {
		return err
	}
	return l.Store.Delete(ctx, zone+"/"+name)
}

// Entry is one file of the landing area, as List gives it.
type Entry struct {
	Zone     string
	Name     string
	Size     int64
	Modified time.Time
}

// List lists the files of the landing area that rat reads (zone/name with a
// known format, neither hidden), by zone and name; zone "" lists every zone.
func (l *Landing) List(ctx context.Context, zone string) ([]Entry, error) {
	prefix := ""
	if zone != "" {
		if err := ValidateZone(zone); err != nil {
			return nil, err
		}
		prefix = zone + "/"
	}
	infos, err := l.Store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list landing area %s: %w", l.Dir(zone), err)
	}
	out := []Entry{}
	for _, info := range infos {
		z, name, ok := strings.Cut(info.Key, "/")
		if !ok || strings.HasPrefix(z, ".") || ValidateFileName(name) != nil {
			continue // a file rat does not read, or one in a sub-directory
		}
		out = append(out, Entry{Zone: z, Name: name, Size: info.Size, Modified: info.ModTime.UTC()})
	}
	return out, nil
}

// Files lists a zone's files with their content hashes and a local path
// DuckDB reads, oldest name first. Files of unknown formats are skipped;
// hidden files are ignored. A file unchanged since the last call (same
// size, modification time and entity tag) is not read again.
func (l *Landing) Files(ctx context.Context, zone string) ([]File, error) {
	if err := objstore.ValidateKey(zone); err != nil || strings.Contains(zone, "/") {
		return nil, rat.Errorf(rat.EINVALID, "landing zone %q: use a simple name like orders", zone)
	}
	infos, err := l.Store.List(ctx, zone+"/")
	if err != nil {
		return nil, fmt.Errorf("list landing zone %s: %w", l.Dir(zone), err)
	}
	var out []File
	for _, info := range infos {
		name := strings.TrimPrefix(info.Key, zone+"/")
		if strings.HasPrefix(path.Base(name), ".") {
			continue
		}
		format, err := Format(name)
		if err != nil && !IsExcel(name) {
			continue
		}
		if IsExcel(name) {
			format = "excel"
		}
		f := File{Zone: zone, Name: name, Size: info.Size, Format: format}
		if f.Local, f.Hash, err = l.localCopy(ctx, info); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	l.forget(zone, infos)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// forget drops what Files remembered of a zone's files that are gone.
func (l *Landing) forget(zone string, listed []objstore.Info) {
	keep := make(map[string]bool, len(listed))
	for _, info := range listed {
		keep[info.Key] = true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for key := range l.seen {
		if strings.HasPrefix(key, zone+"/") && !keep[key] {
			delete(l.seen, key)
		}
	}
}

// localCopy hashes a landing file and returns a local path for it: the file
// itself on a local store, else a download into TmpDir named by its hash
// (so one content is downloaded once, whatever its names).
func (l *Landing) localCopy(ctx context.Context, info objstore.Info) (string, string, error) {
	l.mu.Lock()
	s, ok := l.seen[info.Key]
	l.mu.Unlock()
	if ok && s.info.Size == info.Size && s.info.ModTime.Equal(info.ModTime) && s.info.ETag == info.ETag {
		if _, err := os.Stat(s.local); err == nil {
			return s.local, s.hash, nil
		}
	}
	local, hash, err := l.read(ctx, info.Key)
	if err != nil {
		return "", "", err
	}
	l.mu.Lock()
	if l.seen == nil {
		l.seen = map[string]seenFile{}
	}
	l.seen[info.Key] = seenFile{info: info, hash: hash, local: local}
	l.mu.Unlock()
	return local, hash, nil
}

// read hashes a landing file, downloading it from a remote store.
func (l *Landing) read(ctx context.Context, key string) (string, string, error) {
	if p, ok := l.Store.LocalPath(key); ok {
		f, err := os.Open(p)
		if err != nil {
			return "", "", fmt.Errorf("read landing file %s: %w", key, err)
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", "", fmt.Errorf("read landing file %s: %w", key, err)
		}
		return p, hex.EncodeToString(h.Sum(nil)), nil
	}
	src, err := l.Store.Open(ctx, key)
	if err != nil {
		return "", "", err
	}
	defer src.Close()
	dir := filepath.Join(l.TmpDir, "landing")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	ext := strings.ToLower(path.Ext(key))
	dst, err := os.CreateTemp(dir, "download-*"+ext)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(dst, h), src); err != nil {
		dst.Close()
		os.Remove(dst.Name())
		return "", "", fmt.Errorf("download landing file %s: %w", key, err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(dst.Name())
		return "", "", err
	}
	hash := hex.EncodeToString(h.Sum(nil))
	// Content-addressed: a copy another download put there first holds
	// the same bytes, and renaming over it is atomic.
	local := filepath.Join(dir, hash+ext)
	if err := os.Rename(dst.Name(), local); err != nil {
		os.Remove(dst.Name())
		return "", "", err
	}
	return local, hash, nil
}
