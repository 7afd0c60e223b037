//go:build !unix

package metrics

// DiskUsed is not measured on this platform.
func DiskUsed(string) float64 { return 0 }

func diskUsage(string) (used, free uint64, ok bool) { return 0, 0, false }
