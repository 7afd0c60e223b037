//go:build unix

package metrics

import "syscall"

// DiskUsed is the used fraction of the file system holding dir, or 0
// when it cannot be read.
func DiskUsed(dir string) float64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Blocks == 0 {
		return 0
	}
	return 1 - float64(st.Bavail)/float64(st.Blocks)
}
