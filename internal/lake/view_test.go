package lake

import (
	"context"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

func TestViews(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		v := rat.TableID{Layer: "gold", Name: "totals"}
		mustWrite(t, l, "main", "silver.sales", "SELECT * FROM (VALUES ('n', 1), ('s', 2), ('n', 3)) t(region, amount)", WriteOptions{})
		if err := l.CreateView(ctx, "main", v, "SELECT region, sum(amount) AS total FROM silver.sales GROUP BY region", ""); err != nil {
			t.Fatal(err)
		}
		got := queryText(t, l, "main", At{}, "SELECT * FROM gold.totals ORDER BY region")
		if strings.Join(got, ";") != "n | 4;s | 2" {
			t.Fatalf("view: %v", got)
		}
		// Resolved at query time, not a copy: new data shows up at once.
		mustWrite(t, l, "main", "silver.sales", "SELECT 's' AS region, 10 AS amount", WriteOptions{})
		if n := queryInt(t, l, "main", At{}, "SELECT total FROM gold.totals WHERE region = 's'"); n != 12 {
			t.Fatalf("view after append: %d, want 12", n)
		}
		// A view over a view, and on another branch its own data.
		if err := l.CreateView(ctx, "main", rat.TableID{Layer: "gold", Name: "top"}, "SELECT region FROM gold.totals ORDER BY total DESC LIMIT 1", ""); err != nil {
			t.Fatal(err)
		}
		if err := l.Store().CreateRef(ctx, rat.Ref{Name: "dev", Kind: rat.Branch, Head: headOf(t, l, "main")}); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, l, "dev", "silver.sales", "SELECT 'n' AS region, 100 AS amount", WriteOptions{})
		if got := queryText(t, l, "dev", At{}, "SELECT * FROM gold.top"); strings.Join(got, ";") != "n" {
			t.Fatalf("dev top: %v", got)
		}
		if got := queryText(t, l, "main", At{}, "SELECT * FROM gold.top"); strings.Join(got, ";") != "s" {
			t.Fatalf("main top: %v", got)
		}
		info, err := l.Describe(ctx, "main", v, false)
		if err != nil || info.Kind != "view" || !strings.Contains(info.SQL, "sum(amount)") {
			t.Fatalf("describe view: %+v %v", info, err)
		}
		if _, err := l.Write(ctx, "main", v, "SELECT 1 AS x", WriteOptions{}); err == nil || !strings.Contains(err.Error(), "is a view, not a table") {
			t.Fatalf("writing into a view: %v", err)
		}
		if err := l.CreateView(ctx, "main", rat.TableID{Layer: "gold", Name: "bad"}, "SELECT * FROM silver.nope", ""); !rat.IsCode(err, rat.ENOTFOUND) {
			t.Fatalf("view over a missing table: %v", err)
		}
		// Views merge like tables.
		if err := l.CreateView(ctx, "dev", rat.TableID{Layer: "gold", Name: "n_only"}, "SELECT * FROM silver.sales WHERE region = 'n'", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Catalog("main").Merge(ctx, "dev", catalog.MergeOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM gold.n_only"); n != 3 {
			t.Fatalf("merged view: %d rows, want 3", n)
		}
	})
}
