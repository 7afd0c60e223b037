package workspace

import (
	"testing"

	"github.com/ratdata/rat"
)

func TestOrderAndNeighbours(t *testing.T) {
	t.Parallel()
	w := mustLoad(t, "testdata/flat", LoadOptions{})
	order, err := w.Order()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(order), "bronze.raw_sales silver.sales silver.stores gold.daily_sales gold.store_kpis"; got != want {
		t.Errorf("order = %s, want %s", got, want)
	}
	sales := rat.TableID{Layer: "silver", Name: "sales"}
	if got := ids(w.Upstream(sales)); got != "bronze.raw_sales" {
		t.Errorf("upstream(silver.sales) = %s", got)
	}
	if got := ids(w.Downstream(sales)); got != "gold.daily_sales gold.store_kpis" {
		t.Errorf("downstream(silver.sales) = %s", got)
	}
	if got := ids(w.Upstream(rat.TableID{Layer: "gold", Name: "store_kpis"})); got != "gold.daily_sales silver.sales" {
		t.Errorf("upstream(gold.store_kpis) = %s (a ref inside is_incremental() is an edge)", got)
	}
	if _, err := w.Get(rat.TableID{Layer: "silver", Name: "sale"}); err == nil {
		t.Error("Get(silver.sale) found a pipeline")
	} else {
		wantError(t, err, rat.ENOTFOUND, `no pipeline builds silver.sale (did you mean "silver.sales"?)`)
	}
}

func TestSelect(t *testing.T) {
	t.Parallel()
	w := mustLoad(t, "testdata/flat", LoadOptions{})
	modifiedOnly := func(names ...string) func(*Pipeline) bool {
		return func(p *Pipeline) bool {
			for _, n := range names {
				if p.ID.String() == n {
					return true
				}
			}
			return false
		}
	}
	for _, tc := range []struct {
		name      string
		selectors []string
		modified  func(*Pipeline) bool
		want      string
	}{
		{"all", nil, nil, "bronze.raw_sales silver.sales silver.stores gold.daily_sales gold.store_kpis"},
		{"one", []string{"silver.sales"}, nil, "silver.sales"},
		{"upstream", []string{"+silver.sales"}, nil, "bronze.raw_sales silver.sales"},
		{"downstream", []string{"silver.sales+"}, nil, "silver.sales gold.daily_sales gold.store_kpis"},
		{"both ways", []string{"+gold.daily_sales+"}, nil, "bronze.raw_sales silver.sales gold.daily_sales gold.store_kpis"},
		{"transitive upstream", []string{"+gold.store_kpis"}, nil, "bronze.raw_sales silver.sales gold.daily_sales gold.store_kpis"},
		{"alias", []string{"silver_sales"}, nil, "silver.sales"},
		{"alias downstream", []string{"gold_daily_sales+"}, nil, "gold.daily_sales gold.store_kpis"},
		{"path form", []string{"silver/stores"}, nil, "silver.stores"},
		{"case", []string{"Silver.Sales"}, nil, "silver.sales"},
		{"layer", []string{"layer:silver"}, nil, "silver.sales silver.stores"},
		{"tag from annotation", []string{"tag:finance"}, nil, "gold.daily_sales"},
		{"tag from documentation", []string{"tag:kpi"}, nil, "gold.daily_sales"},
		{"union in order", []string{"layer:gold", "silver.stores", "bronze.raw_sales"}, nil, "bronze.raw_sales silver.stores gold.daily_sales gold.store_kpis"},
		{"state:modified", []string{"state:modified"}, modifiedOnly("silver.sales"), "silver.sales gold.daily_sales gold.store_kpis"},
		{"state:modified leaf", []string{"state:modified"}, modifiedOnly("silver.stores"), "silver.stores"},
		{"state:modified nothing", []string{"state:modified"}, modifiedOnly(), ""},
		{"state:modified plus one", []string{"state:modified", "bronze.raw_sales"}, modifiedOnly("gold.store_kpis"), "bronze.raw_sales gold.store_kpis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := w.Select(tc.selectors, tc.modified)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != tc.want {
				t.Errorf("Select(%q) = %s, want %s", tc.selectors, ids(got), tc.want)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	t.Parallel()
	w := mustLoad(t, "testdata/flat", LoadOptions{})
	for _, tc := range []struct {
		selector  string
		modified  func(*Pipeline) bool
		code      string
		fragments []string
	}{
		{"silver.sale", nil, rat.ENOTFOUND, []string{`selector "silver.sale": no pipeline "silver.sale" (did you mean "silver.sales"?)`}},
		{"+bronze.raw_sale+", nil, rat.ENOTFOUND, []string{`(did you mean "bronze.raw_sales"?)`}},
		{"layer:siver", nil, rat.ENOTFOUND, []string{`selector "layer:siver": no pipeline is in layer "siver" (did you mean "silver"?): the layers with pipelines are bronze, gold, silver`}},
		{"tag:finanse", nil, rat.ENOTFOUND, []string{`selector "tag:finanse": no pipeline has tag "finanse" (did you mean "finance"?): the tags are daily, finance, kpi, sales`}},
		{"lyer:gold", nil, rat.EINVALID, []string{`selector "lyer:gold": unknown method "lyer" (did you mean "layer"?)`}},
		{"state:changed", func(*Pipeline) bool { return true }, rat.EINVALID, []string{"the only state is modified"}},
		{"state:modified", nil, rat.EINVALID, []string{"no previous state to compare with"}},
		{"+", nil, rat.EINVALID, []string{"name a pipeline"}},
	} {
		t.Run(tc.selector, func(t *testing.T) {
			_, err := w.Select([]string{"silver.sales", tc.selector}, tc.modified)
			wantError(t, err, tc.code, tc.fragments...)
		})
	}
}
