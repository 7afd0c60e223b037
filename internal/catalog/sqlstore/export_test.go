package sqlstore

import "context"

// SetCopyBatch sets the rows Copy writes per transaction until the test ends.
func SetCopyBatch(t interface{ Cleanup(func()) }, n int) {
	old := copyBatch
	copyBatch = n
	t.Cleanup(func() { copyBatch = old })
}

// Exec runs a statement on the store's database.
func (s *Store) Exec(ctx context.Context, query string) error {
	_, err := s.db.ExecContext(ctx, query)
	return err
}
