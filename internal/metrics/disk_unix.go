//go:build unix

package metrics

import (
	"path/filepath"
	"syscall"
)

// DiskUsed is the used fraction of the file system holding dir, or 0
// when it cannot be read.
func DiskUsed(dir string) float64 {
	used, free, ok := diskUsage(dir)
	if !ok || used+free == 0 {
		return 0
	}
	return float64(used) / float64(used+free)
}

// diskUsage is the bytes used and free (for an unprivileged process) on
// the file system holding dir, or on the nearest existing directory above
// it (a spill directory is made on the first spill).
func diskUsage(dir string) (used, free uint64, ok bool) {
	var st syscall.Statfs_t
	for {
		err := syscall.Statfs(dir, &st)
		if err == nil {
			break
		}
		up := filepath.Dir(dir)
		if up == dir {
			return 0, 0, false
		}
		dir = up
	}
	if st.Blocks == 0 {
		return 0, 0, false
	}
	bs := uint64(st.Bsize)
	// Blocks reserved for root are neither used nor free to rat: the
	// used share is of what an unprivileged process can have, as df shows.
	return (uint64(st.Blocks) - uint64(st.Bfree)) * bs, uint64(st.Bavail) * bs, true
}
