package cli

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ratdata/rat"
)

// outFile is an output file written beside its destination under a hidden
// temporary name and renamed onto it only when complete: a command that
// fails half-way leaves the destination as it was (an existing file keeps
// its bytes, a new one does not appear) and no temporary file behind.
type outFile struct {
	dest string // the destination path, as given
	tmp  string // the temporary path, in the destination's directory
	f    *os.File
	done bool // committed or aborted
}

// tempName is a fresh hidden name beside dest: .<base>.rat-<random><ext>
// (the extension kept, for writers that look at it).
func tempName(dest string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	base := filepath.Base(dest)
	return filepath.Join(filepath.Dir(dest), "."+strings.TrimSuffix(base, filepath.Ext(base))+".rat-"+hex.EncodeToString(b)+filepath.Ext(base))
}

// createOutput opens a temporary file for dest. Commit or Abort must follow.
func createOutput(dest string) (*outFile, error) {
	if st, err := os.Stat(dest); err == nil && st.IsDir() {
		return nil, rat.Errorf(rat.EINVALID, "cannot write %s: it is a directory; give a file name", dest)
	}
	tmp := tempName(dest)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "cannot write %s: %s: check that the directory exists and is writable", dest, pathError(err))
	}
	return &outFile{dest: dest, tmp: tmp, f: f}, nil
}

// reserveOutput returns a temporary path beside dest for a writer that
// creates the file itself (DuckDB's COPY); nothing exists there yet.
func reserveOutput(dest string) (*outFile, error) {
	if st, err := os.Stat(dest); err == nil && st.IsDir() {
		return nil, rat.Errorf(rat.EINVALID, "cannot write %s: it is a directory; give a file name", dest)
	}
	if st, err := os.Stat(filepath.Dir(dest)); err != nil || !st.IsDir() {
		return nil, rat.Errorf(rat.EINVALID, "cannot write %s: directory %s does not exist", dest, filepath.Dir(dest))
	}
	return &outFile{dest: dest, tmp: tempName(dest)}, nil
}

// Write implements io.Writer.
func (o *outFile) Write(p []byte) (int, error) { return o.f.Write(p) }

// Close closes the temporary file without publishing it (Commit does).
func (o *outFile) Close() error {
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	return err
}

// Commit closes the temporary file and renames it onto the destination,
// keeping the mode of a file it replaces.
func (o *outFile) Commit() error {
	if err := o.Close(); err != nil {
		o.Abort()
		return fmt.Errorf("write %s: %w", o.dest, err)
	}
	if st, err := os.Stat(o.dest); err == nil && st.Mode().IsRegular() {
		_ = os.Chmod(o.tmp, st.Mode().Perm())
	}
	if err := os.Rename(o.tmp, o.dest); err != nil {
		o.Abort()
		return rat.Errorf(rat.EINVALID, "cannot write %s: %s", o.dest, pathError(err))
	}
	o.done = true
	return nil
}

// Abort removes the temporary file; the destination is untouched. It is
// safe to call after Commit (it then does nothing).
func (o *outFile) Abort() {
	if o.done {
		return
	}
	o.done = true
	if o.f != nil {
		o.f.Close()
		o.f = nil
	}
	_ = os.Remove(o.tmp)
}

// pathError is an *os.PathError's reason without the (temporary) path.
func pathError(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	if le, ok := err.(*os.LinkError); ok {
		return le.Err.Error()
	}
	return err.Error()
}
