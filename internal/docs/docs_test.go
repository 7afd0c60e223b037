package docs

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/workspace"
)

// shop is a small workspace: a landing zone read by bronze, a documented
// incremental silver pipeline that also reads a catalog-only table, and a
// gold pipeline with a quality test.
var shop = map[string]string{
	"workspace.yaml": "name: shop\ndescription: Sales of the coffee shops.\n",
	"pipelines/bronze/raw_sales.sql": `-- @owner: ingest-team
SELECT * FROM {{ landing('sales') }}
`,
	"pipelines/silver/sales.sql": `-- @materialized: incremental
-- @unique_key: txn_id
-- @partition_by: day(sold_at)
SELECT s.*, st.city
FROM {{ ref('bronze.raw_sales') }} s JOIN {{ ref('bronze.stores') }} st USING (store_id)
{% if is_incremental() %}WHERE sold_at > '{{ watermark("sold_at") }}'{% endif %}
`,
	"pipelines/silver/sales.yaml": `description: |
  Cleaned sales | one row per transaction.

  Late rows are merged by txn_id.
owner:
  team: data-team
  email: data@shop.test
tags: [sales, finance]
watermark_column: sold_at
columns:
  - name: txn_id
    type: string
    description: Transaction id.
    tests: [not_null, unique]
  - name: amount
    type: double
    description: |
      Amount | in EUR
      after tax
    example: "12.5"
    tests: [positive]
  - name: store_id
    type: string
    tests:
      - accepted_values: [S1, S2]
      - relationships: {to: silver.stores, field: store_id}
  - name: email
    type: string
    pii: true
    pii_type: email
  - name: legacy_code
    type: string
    description: Dropped in 2024.
freshness:
  warn_after: { hours: 6 }
  error_after: { days: 1, hours: 12 }
tests:
  - name: no_future_sales
    sql: SELECT * FROM {{ this }} WHERE sold_at > now()
    severity: warn
documentation:
  rules:
    - name: positive_amounts
      description: An amount is never negative.
      sql: "amount > 0 OR amount IS NULL"
`,
	"pipelines/silver/stores.sql": "-- @materialized: view\nSELECT * FROM {{ ref('bronze.stores') }}\n",
	"pipelines/gold/daily.sql": `SELECT CAST(sold_at AS DATE) AS day, sum(amount) AS revenue
FROM {{ ref('silver.sales') }} GROUP BY 1
`,
	"pipelines/gold/daily/tests/quality/revenue_positive.sql": `-- @severity: warn
-- @description: revenue | never below zero
SELECT * FROM {{ this }} WHERE revenue < 0
`,
}

// schemas stands in for the catalog: silver.sales and gold.daily exist.
func schemas(id rat.TableID) ([]ColumnInfo, bool) {
	switch id.String() {
	case "silver.sales":
		return []ColumnInfo{{"txn_id", "string"}, {"amount", "double"}, {"store_id", "string"},
			{"email", "string"}, {"sold_at", "timestamp"}}, true
	case "gold.daily":
		return []ColumnInfo{{"day", "date"}, {"revenue", "double"}}, true
	}
	return nil, false
}

func load(t *testing.T, files map[string]string) *workspace.Workspace {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := workspace.Load(dir, workspace.LoadOptions{Known: func(rat.TableID) bool { return true }})
	if err != nil {
		t.Fatalf("load workspace: %v", err)
	}
	return ws
}

// contains fails the test for each line of want missing from got.
func contains(t *testing.T, file, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q; it is:\n%s", file, w, got)
		}
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	ws := load(t, shop)
	files, err := Generate(ws, schemas)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("files", func(t *testing.T) {
		var got []string
		for name := range files {
			got = append(got, name)
		}
		sort.Strings(got)
		want := []string{"README.md", "bronze/raw_sales.md", "gold/daily.md", "silver/sales.md", "silver/stores.md"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("files = %q, want %q", got, want)
		}
	})

	t.Run("readme", func(t *testing.T) {
		r := files["README.md"]
		contains(t, "README.md", r,
			"# shop\n\nSales of the coffee shops.\n",
			"| Layer | Pipeline | Description | Owner | Materialization |\n",
			"| bronze | [bronze.raw_sales](bronze/raw_sales.md) |  | ingest-team | table |\n",
			"| silver | [silver.sales](silver/sales.md) | Cleaned sales \\| one row per transaction. | data-team | incremental (merge) |\n",
			"| silver | [silver.stores](silver/stores.md) |  |  | view |\n",
			"```mermaid\n"+ws.Mermaid()+"```\n",
		)
		// By layer, in data-flow order: bronze, silver, gold.
		b, s, g := strings.Index(r, "| bronze |"), strings.Index(r, "| silver |"), strings.Index(r, "| gold |")
		if !(b < s && s < g) {
			t.Errorf("layers out of order (bronze %d, silver %d, gold %d):\n%s", b, s, g, r)
		}
	})

	t.Run("columns merged with the table", func(t *testing.T) {
		p := files["silver/sales.md"]
		contains(t, "silver/sales.md", p,
			"| Column | Type | Description | PII | Tests |\n|---|---|---|---|---|\n"+
				"| `txn_id` | `string` | Transaction id. |  | not_null, unique |\n"+
				"| `amount` | `double` | Amount \\| in EUR<br>after tax Example: `12.5` |  | positive |\n"+
				"| `store_id` | `string` |  |  | accepted_values (S1, S2), relationships → silver.stores.store_id |\n"+
				"| `email` | `string` |  | yes (email) |  |\n"+
				"| `sold_at` *(table only)* | `timestamp` |  |  |  |\n"+
				"| `legacy_code` *(YAML only)* | `string` | Dropped in 2024. |  |  |\n",
		)
	})

	t.Run("settings, tests and rules", func(t *testing.T) {
		p := files["silver/sales.md"]
		contains(t, "silver/sales.md", p,
			"# silver.sales\n",
			"Cleaned sales | one row per transaction.\n\nLate rows are merged by txn_id.\n",
			"| Owner | data-team, data@shop.test |\n",
			"| Materialization | incremental (merge) |\n",
			"| Unique key | `txn_id` |\n",
			"| Partitioned by | `day(sold_at)` |\n",
			"| Merge strategy | merge |\n",
			"| Watermark | `sold_at` |\n",
			"| Tags | `finance`, `sales` |\n",
			"| Freshness | warn after 6h, error after 1d 12h |\n",
			"| no_future_sales | warn | no rows | `SELECT * FROM {{ this }} WHERE sold_at > now()` |\n",
			"| positive_amounts | An amount is never negative. | `amount > 0 OR amount IS NULL` |\n",
			"```sql\n"+shop["pipelines/silver/sales.sql"]+"```\n",
		)
		g := files["gold/daily.md"]
		contains(t, "gold/daily.md", g,
			"| revenue_positive | warn | revenue \\| never below zero | `pipelines/gold/daily/tests/quality/revenue_positive.sql` |\n",
			// No YAML: the table's columns, unmarked.
			"| `day` | `date` |  |  |  |\n",
		)
		if strings.Contains(g, "table only") {
			t.Errorf("gold/daily.md marks columns although it documents none:\n%s", g)
		}
	})

	t.Run("neighbourhood", func(t *testing.T) {
		p := files["silver/sales.md"]
		contains(t, "silver/sales.md", p,
			"```mermaid\nflowchart LR\n  n_silver_sales[\"silver.sales\"]\n",
			"  n_bronze_raw_sales[\"bronze.raw_sales\"] --> n_silver_sales\n",
			"  n_bronze_stores[(\"bronze.stores\")] --> n_silver_sales\n",
			"  n_silver_sales --> n_gold_daily[\"gold.daily\"]\n",
			"  click n_bronze_raw_sales \"../bronze/raw_sales.md\"\n",
			"  click n_gold_daily \"../gold/daily.md\"\n",
			"- Reads: [bronze.raw_sales](../bronze/raw_sales.md), `bronze.stores` (catalog table)\n",
			"- Read by: [gold.daily](../gold/daily.md)\n",
		)
		contains(t, "bronze/raw_sales.md", files["bronze/raw_sales.md"],
			"  n_landing__sales[/\"landing: sales\"/] --> n_bronze_raw_sales\n",
			"  n_bronze_raw_sales --> n_silver_sales[\"silver.sales\"]\n",
			"- Reads: `sales` (landing zone)\n",
			// Not in the catalog and no YAML columns.
			"No columns documented, and the table is not in the catalog yet",
		)
		contains(t, "silver/stores.md", files["silver/stores.md"],
			"| Materialization | view |\n",
			"No columns documented: a view stores only its SQL",
		)
		// Links to another layer's pages go up a directory.
		contains(t, "gold/daily.md", files["gold/daily.md"], "- Reads: [silver.sales](../silver/sales.md)\n")
	})

	t.Run("deterministic", func(t *testing.T) {
		again, err := Generate(load(t, shop), schemas)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, files) {
			t.Error("two generations of the same workspace differ")
		}
	})
}

func TestGenerateWithoutCatalog(t *testing.T) {
	t.Parallel()
	files, err := Generate(load(t, shop), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := files["silver/sales.md"]
	contains(t, "silver/sales.md", p,
		"| `legacy_code` | `string` | Dropped in 2024. |  |  |\n",
		"The table is not in the catalog yet: types are the YAML's.\n",
	)
	if strings.Contains(p, "YAML only") || strings.Contains(p, "\n| `sold_at`") {
		t.Errorf("without a catalog, only the YAML's columns are listed, unmarked:\n%s", p)
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, got, want string
	}{
		{"cell pipe and newline", cell("a | b\r\nc\n"), `a \| b<br>c`},
		{"code pipe", code("x || y"), "`x \\|\\| y`"},
		{"code backticks", code("a`b"), "``a`b``"},
		{"code edge backtick", code("`a"), "`` `a ``"},
		{"link brackets", link("[x]|y", "x.md"), `[\[x\]\|y](x.md)`},
		{"fence longer than content", fenced("sql", "SELECT '```'"), "````sql\nSELECT '```'\n````\n\n"},
		{"mermaid quote", mermaidLabel(`a "b"`), `"a #quot;b#quot;"`},
		{"link within a layer", relLink(rat.TableID{Layer: "gold", Name: "a"}, rat.TableID{Layer: "gold", Name: "b"}), "b.md"},
		{"link across layers", relLink(rat.TableID{Layer: "gold", Name: "a"}, rat.TableID{Layer: "silver", Name: "b"}), "../silver/b.md"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}
