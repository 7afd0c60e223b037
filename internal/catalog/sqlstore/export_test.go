package sqlstore

// SetCopyBatch sets the rows Copy writes per transaction until the test ends.
func SetCopyBatch(t interface{ Cleanup(func()) }, n int) {
	old := copyBatch
	copyBatch = n
	t.Cleanup(func() { copyBatch = old })
}
