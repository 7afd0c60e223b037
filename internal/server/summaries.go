package server

import (
	"context"
	"sync"

	"github.com/ratdata/rat/internal/lake"
)

// summaryCache keeps table summaries by the commit they describe. A
// commit never changes, so an entry is right for as long as it lives;
// reading every table's metadata is what makes a table list slow (about
// 180 ms for 1,000 tables), and the UI's tables and overview pages ask
// for it on every visit.
type summaryCache struct {
	mu      sync.Mutex
	entries map[string][]lake.Summary // commit id → summaries
	order   []string                  // oldest first
}

const summaryCacheSize = 16

// summaries returns the tables of a branch or tag with their sizes, from
// the cache when its head has not moved.
func (s *Server) summaries(ctx context.Context, ref string) ([]lake.Summary, error) {
	before, err := s.cfg.Store.Ref(ctx, ref)
	if err != nil {
		return nil, err
	}
	c := &s.sums
	c.mu.Lock()
	got, ok := c.entries[before.Head]
	c.mu.Unlock()
	if ok {
		return got, nil
	}
	sums, err := s.cfg.Lake.Summaries(ctx, ref)
	if err != nil {
		return nil, err
	}
	// Only a list read while the head stood still belongs to that head.
	after, err := s.cfg.Store.Ref(ctx, ref)
	if err != nil || after.Head != before.Head {
		return sums, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string][]lake.Summary{}
	}
	if _, ok := c.entries[before.Head]; !ok {
		c.entries[before.Head] = sums
		c.order = append(c.order, before.Head)
		if len(c.order) > summaryCacheSize {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
	}
	return sums, nil
}
