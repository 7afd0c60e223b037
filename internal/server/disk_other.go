//go:build !unix

package server

// diskUsedRatio is not measured on this platform.
func diskUsedRatio(string) float64 { return 0 }
