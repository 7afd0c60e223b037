package bench

import (
	"crypto/sha256"
	"os"
	"runtime"
	"testing"
)

// TestProcessesCPU: the CPU time of a process grows while it computes;
// without /proc it is reported unknown.
func TestProcessesCPU(t *testing.T) {
	t.Parallel()
	self := []int{os.Getpid()}
	before, ok := processesCPU(self)
	if runtime.GOOS != "linux" {
		if ok {
			t.Fatalf("processesCPU reported %s without /proc", before)
		}
		return
	}
	if !ok {
		t.Fatal("processesCPU cannot read /proc/self")
	}
	if _, ok := processesCPU([]int{-1}); ok {
		t.Fatal("processesCPU read a process that does not exist")
	}
	sum := sha256.Sum256(nil)
	for i := 0; ; i++ {
		for range 10_000 {
			sum = sha256.Sum256(sum[:])
		}
		now, ok := processesCPU(self)
		if ok && now > before {
			return
		}
		if i == 100_000 {
			t.Fatalf("CPU time stayed at %s while computing", before)
		}
	}
}
