package cli

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/workspace"
	"github.com/spf13/cobra"
)

func newInitCmd(g *globals) *cobra.Command {
	var demo bool
	cmd := &cobra.Command{
		Use:   "init DIR [--demo]",
		Short: "Create a workspace (with --demo: sample data and bronze → silver → gold pipelines)",
		Example: `  rat init my-lake
  rat init demo --demo && cd demo && rat run && rat query "SELECT * FROM gold.daily_revenue"`,
		Args: exactArgs(1, "the directory to create"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if _, err := os.Stat(filepath.Join(dir, config.WorkspaceFileName)); err == nil {
				return rat.Errorf(rat.EINVALID, "%s already holds a workspace.yaml: pick another directory", dir)
			}
			if err := writeWorkspace(dir, demo); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !demo {
				fmt.Fprintf(out, "created workspace %s: add pipelines under %s/pipelines/<layer>/<name>.sql, then 'rat run'\n", dir, dir)
				return nil
			}
			fmt.Fprintf(out, "created demo workspace %s: raw files in landing/, pipelines in pipelines/\nnext: rat -C %s run && rat -C %s tables\n", dir, dir, dir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "add sample data and pipelines")
	return cmd
}

// writeWorkspace writes a new workspace (with demo, the demo's files).
func writeWorkspace(dir string, demo bool) error {
	files := skeletonFiles(filepath.Base(dir))
	if demo {
		for k, v := range demoFiles() {
			files[k] = v
		}
	}
	return workspace.WriteTree(dir, files)
}

func skeletonFiles(name string) map[string]string {
	return map[string]string{
		"workspace.yaml": fmt.Sprintf(`# rat workspace: see 'rat --help' and README.md
name: %s
description: ""
resources:
  profile: small
`, name),
		".gitignore":                "# rat's local state: catalog, warehouse, cache\n.rat/\n",
		"pipelines/bronze/.gitkeep": "",
		"pipelines/silver/.gitkeep": "",
		"pipelines/gold/.gitkeep":   "",
	}
}

// demoFiles is the demo workspace: raw files in landing zones, ingested in
// bronze, cleaned in silver (one incremental with tests), aggregated in gold.
func demoFiles() map[string]string {
	rng := rand.New(rand.NewSource(42))
	var customers, orders strings.Builder
	customers.WriteString("customer_id,name,country,signed_up\n")
	countries := []string{"FR", "DE", "ES", "IT", "NL"}
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&customers, "%d,customer %d,%s,2024-01-%02d\n", i, i, countries[rng.Intn(len(countries))], 1+rng.Intn(28))
	}
	orders.WriteString("order_id,customer_id,status,amount,updated_at\n")
	statuses := []string{"placed", "shipped", "delivered", "returned"}
	t := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := 1; i <= 1000; i++ {
		t = t.Add(time.Duration(5+rng.Intn(120)) * time.Minute)
		fmt.Fprintf(&orders, "%d,%d,%s,%.2f,%s\n", i, 1+rng.Intn(100), statuses[rng.Intn(len(statuses))], float64(100+rng.Intn(20000))/100, t.Format("2006-01-02 15:04:05"))
	}
	return map[string]string{
		"landing/customers/customers.csv":   customers.String(),
		"landing/orders/orders_2024_03.csv": orders.String(),
		"pipelines/bronze/raw_customers.sql": `-- @description: Customers as exported, every file of landing/customers
SELECT * FROM {{ landing('customers') }}
`,
		"pipelines/bronze/raw_orders.sql": `-- @materialized: incremental
-- @description: Order exports; each new file in landing/orders is appended once
SELECT * FROM {{ landing('orders') }}
`,
		"pipelines/silver/customers.sql": `-- @description: Customers, one row each, with clean country codes
SELECT customer_id, name, upper(country) AS country, CAST(signed_up AS DATE) AS signed_up
FROM {{ ref('bronze.raw_customers') }}
`,
		"pipelines/silver/orders/pipeline.sql": `-- @materialized: incremental
-- @unique_key: order_id
-- @watermark_column: updated_at
SELECT order_id, customer_id, status, CAST(amount AS DECIMAL(12, 2)) AS amount, updated_at
FROM {{ ref('bronze.raw_orders') }}
{% if is_incremental() %}
WHERE updated_at > '{{ watermark("updated_at") }}'
{% endif %}
`,
		"pipelines/silver/orders/config.yaml": `description: Orders, latest version of each
owner: data-team
columns:
  - name: order_id
    tests: [not_null, unique]
  - name: status
    tests:
      - accepted_values: [placed, shipped, delivered, returned]
  - name: customer_id
    tests:
      - relationships: {to: silver.customers, field: customer_id}
`,
		"pipelines/silver/orders/tests/quality/no_negative_amounts.sql": `-- @name: no_negative_amounts
-- @severity: error
SELECT * FROM {{ this }} WHERE amount < 0
`,
		"pipelines/gold/daily_revenue.sql": `-- @description: Revenue per day, returns excluded
SELECT CAST(updated_at AS DATE) AS day, count(*) AS orders, sum(amount) AS revenue
FROM {{ ref('silver.orders') }}
WHERE status <> 'returned'
GROUP BY ALL
ORDER BY day
`,
		"pipelines/gold/customer_value.sql": `-- @materialized: view
-- @description: Lifetime value per customer, always current
SELECT c.customer_id, c.name, c.country, count(o.order_id) AS orders, coalesce(sum(o.amount), 0) AS value
FROM {{ ref('silver.customers') }} c
LEFT JOIN {{ ref('silver.orders') }} o ON o.customer_id = c.customer_id
GROUP BY ALL
`,
	}
}
