package migrate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
)

// The journal is the files phase's record of what it checked: for every
// file at the target, its size and SHA-256 and the versions of the source
// and target objects they were established for. It lives at the target
// warehouse, in objects under JournalPrefix written as the copy goes
// (every second and at the end), so that a rerun after a kill skips unread
// the files whose source and target have not changed since (a file copied
// after the last write is checked again: its content is read on both
// sides), and so that the verification can name each data file's content
// without reading it.

// JournalPrefix holds the journal's objects. A key segment with a hyphen
// cannot be a layer, so it is never a table's directory.
const JournalPrefix = "rat-migrate/"

// journalFormat is the version of a journal object's JSON.
const journalFormat = 1

// maxJournalBytes caps what is read of one journal object (about 250
// bytes a file).
const maxJournalBytes = 1 << 30

// journalCompactAt is how many journal objects a finished pass leaves at
// most: more are merged into one.
const journalCompactAt = 8

// FileSum is what the journal records of one file at the target.
type FileSum struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // of the bytes at the target (rewritten ones for metadata)
	// Target and Source are the versions of the two objects when the sum
	// was established: the ETag on S3, the size and modification time in
	// nanoseconds on local disk.
	Target string `json:"target"`
	Source string `json:"source"`
	// Rewrite names the location mapping a rewritten file went through
	// (empty for files copied as they are).
	Rewrite string `json:"rewrite,omitempty"`
}

// version identifies one state of an object: a change of its content
// changes it (a new ETag, or a new size or modification time).
func version(i objstore.Info) string {
	if i.ETag != "" {
		return i.ETag
	}
	return strconv.FormatInt(i.Size, 10) + "@" + strconv.FormatInt(i.ModTime.UnixNano(), 10)
}

// journalObject is the JSON of one journal object.
type journalObject struct {
	Format int                `json:"format"`
	Files  map[string]FileSum `json:"files"`
}

// journal is the record of one target, loaded and added to.
type journal struct {
	dst     objstore.Store
	mu      sync.Mutex
	all     map[string]FileSum
	pending map[string]FileSum
	objects []string // keys of the journal's objects, in order
	next    int      // number of the next object
}

// loadJournal reads the journal at dst (empty when there is none).
func loadJournal(ctx context.Context, dst objstore.Store) (*journal, error) {
	j := &journal{dst: dst, all: map[string]FileSum{}, pending: map[string]FileSum{}}
	infos, err := dst.List(ctx, JournalPrefix)
	if err != nil {
		return nil, fmt.Errorf("list the journal at the target %s: %w", root(dst), err)
	}
	for _, info := range infos {
		n, ok := journalNumber(info.Key)
		if !ok {
			continue
		}
		if err := j.read(ctx, info.Key); err != nil {
			return nil, err
		}
		j.objects = append(j.objects, info.Key)
		j.next = max(j.next, n+1)
	}
	return j, nil
}

// journalKey names the journal object number n; keys sort as numbers do.
func journalKey(n int) string { return fmt.Sprintf("%ssums-%09d.json", JournalPrefix, n) }

func journalNumber(key string) (int, bool) {
	s, ok := strings.CutPrefix(key, JournalPrefix+"sums-")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, ".json")
	n, err := strconv.Atoi(s)
	return n, ok && err == nil && n >= 0
}

func (j *journal) read(ctx context.Context, key string) error {
	f, err := j.dst.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("read the journal %s at the target: %w", key, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJournalBytes+1))
	if err != nil {
		return fmt.Errorf("read the journal %s at the target: %w", key, err)
	}
	var o journalObject
	if len(data) > maxJournalBytes || json.Unmarshal(data, &o) != nil || o.Format != journalFormat {
		return rat.Errorf(rat.ECONFLICT, "%s at the target %s is not a rat migrate journal this version understands: remove %s there (the files are then checked again) or choose an empty location",
			key, root(j.dst), JournalPrefix)
	}
	maps.Copy(j.all, o.Files)
	return nil
}

// get returns the record of key.
func (j *journal) get(key string) (FileSum, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	s, ok := j.all[key]
	return s, ok
}

// put records key; the next flush writes it.
func (j *journal) put(key string, s FileSum) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.all[key] = s
	j.pending[key] = s
}

// sums returns a copy of every record.
func (j *journal) sums() map[string]FileSum {
	j.mu.Lock()
	defer j.mu.Unlock()
	return maps.Clone(j.all)
}

// flush writes the records put since the last flush as a new object.
func (j *journal) flush(ctx context.Context) error {
	j.mu.Lock()
	if j.dst == nil { // a journal kept in memory only (copyLanding)
		j.pending = map[string]FileSum{}
	}
	if len(j.pending) == 0 {
		j.mu.Unlock()
		return nil
	}
	o := journalObject{Format: journalFormat, Files: j.pending}
	j.pending = map[string]FileSum{}
	key := journalKey(j.next)
	j.next++
	j.mu.Unlock()
	if err := j.write(ctx, key, o); err != nil {
		return err
	}
	j.mu.Lock()
	j.objects = append(j.objects, key)
	j.mu.Unlock()
	return nil
}

func (j *journal) write(ctx context.Context, key string, o journalObject) error {
	data, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := j.dst.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("write the journal %s at the target: %w", key, err)
	}
	return nil
}

// compact flushes, then merges the journal into one object when it has
// grown to more than journalCompactAt: the merged one is written before
// the others are deleted, so a kill in between loses nothing.
func (j *journal) compact(ctx context.Context) error {
	if err := j.flush(ctx); err != nil {
		return err
	}
	j.mu.Lock()
	if j.dst == nil || len(j.objects) <= journalCompactAt {
		j.mu.Unlock()
		return nil
	}
	o := journalObject{Format: journalFormat, Files: maps.Clone(j.all)}
	old := j.objects
	key := journalKey(j.next)
	j.next++
	j.mu.Unlock()
	if err := j.write(ctx, key, o); err != nil {
		return err
	}
	for _, k := range old {
		if err := j.dst.Delete(ctx, k); err != nil {
			return fmt.Errorf("delete the journal %s at the target: %w", k, err)
		}
	}
	j.mu.Lock()
	j.objects = []string{key}
	j.mu.Unlock()
	return nil
}
