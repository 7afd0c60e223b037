package lake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The data files of a snapshot are listed in its manifests, which a new
// process reads again for every query (one manifest per append until
// they are merged, each a GET on S3). A snapshot's manifest list never
// changes once written (Invariant 2), so its file list is kept on disk,
// one small JSON file per manifest list, in Config.FileListDir.

// maxFileLists bounds the lists kept: writing one more removes the oldest
// down to three quarters of it.
const maxFileLists = 1000

// fileList is what a list file holds. ManifestList guards against a hash
// collision and a file from elsewhere.
type fileList struct {
	ManifestList string     `json:"manifest_list"`
	Files        []DataFile `json:"files"`
}

func (l *Lake) fileListPath(manifestList string) string {
	sum := sha256.Sum256([]byte(manifestList))
	return filepath.Join(l.fileListDir, hex.EncodeToString(sum[:16])+".json")
}

// readFileList returns the files of a snapshot listed on disk earlier;
// anything unreadable counts as not listed.
func (l *Lake) readFileList(manifestList string) ([]DataFile, bool) {
	if l.fileListDir == "" || manifestList == "" {
		return nil, false
	}
	data, err := os.ReadFile(l.fileListPath(manifestList))
	if err != nil {
		return nil, false
	}
	var fl fileList
	if json.Unmarshal(data, &fl) != nil || fl.ManifestList != manifestList || fl.Files == nil {
		return nil, false
	}
	return fl.Files, true
}

// writeFileList keeps the files of a snapshot on disk. It is best effort:
// a list that cannot be written is read from the manifests next time.
func (l *Lake) writeFileList(manifestList string, files []DataFile) {
	if l.fileListDir == "" || manifestList == "" {
		return
	}
	if files == nil {
		files = []DataFile{}
	}
	data, err := json.Marshal(fileList{ManifestList: manifestList, Files: files})
	if err != nil || os.MkdirAll(l.fileListDir, 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(l.fileListDir, ".list-*")
	if err != nil {
		return
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), l.fileListPath(manifestList))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return
	}
	pruneFileLists(l.fileListDir)
}

// pruneFileLists removes the oldest lists once there are more than
// maxFileLists (and temporary files older than a minute, left by a crash).
func pruneFileLists(dir string) {
	des, err := os.ReadDir(dir)
	if err != nil || len(des) <= maxFileLists {
		return
	}
	type entry struct {
		name  string
		mtime time.Time
	}
	var lists []entry
	for _, de := range des {
		fi, err := de.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if strings.HasPrefix(de.Name(), ".list-") {
			if time.Since(fi.ModTime()) > time.Minute {
				os.Remove(filepath.Join(dir, de.Name()))
			}
			continue
		}
		lists = append(lists, entry{de.Name(), fi.ModTime()})
	}
	slices.SortFunc(lists, func(a, b entry) int { return a.mtime.Compare(b.mtime) })
	for len(lists) > maxFileLists*3/4 {
		os.Remove(filepath.Join(dir, lists[0].name))
		lists = lists[1:]
	}
}
