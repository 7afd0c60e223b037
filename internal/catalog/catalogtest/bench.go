package catalogtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// BenchCommit measures commits to one branch by concurrent writers, each on
// its own table: 8 writers per GOMAXPROCS (go test -bench Commit -cpu 1 for
// exactly 8). It reports commits/s.
func BenchCommit(b *testing.B, s catalog.Store) {
	var writer atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := writer.Add(1)
		table := rat.TableID{Layer: "bronze", Name: fmt.Sprintf("w%d", w)}
		prev := ""
		for i := 0; pb.Next(); i++ {
			next := fmt.Sprintf("w%d-%d", w, i)
			_, err := s.Commit(context.Background(), catalog.CommitRequest{
				Branch: "main", Author: "bench", Message: "bench",
				Changes: []catalog.Change{{Table: table, Expected: prev, Metadata: next}},
			})
			if err != nil {
				b.Error(err)
				return
			}
			prev = next
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
