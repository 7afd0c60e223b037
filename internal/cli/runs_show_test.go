package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRunsShowNamesTheFailure: 'rat runs show' of a failed run prints the
// failing pipeline's error with its file:line and the SQL around it; a
// view's row count reads "view", never 0.
func TestRunsShowNamesTheFailure(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("workspace.yaml", "name: shop\n")
	u.write("pipelines/silver/orders.sql", "SELECT * FROM (VALUES (1, 10.0), (2, 5.0)) t(id, amount)\n")
	u.write("pipelines/gold/big.sql", "-- @materialized: view\nSELECT * FROM {{ ref('silver.orders') }} WHERE amount > 1\n")
	u.write("pipelines/gold/total.sql", "-- @description: the total\nSELECT sum(amount) AS total,\n       sum(amount_typo) AS typo\nFROM {{ ref('silver.orders') }}\n")
	_, errs, code := u.run("run")
	if code == 0 {
		t.Fatalf("the run should fail:\n%s", errs)
	}
	var runs []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(u.ok("runs", "list", "--json")), &runs); err != nil || len(runs) != 1 {
		t.Fatalf("runs %v: %v", runs, err)
	}
	out := u.ok("runs", "show", runs[0].ID)
	for _, want := range []string{
		"✗ gold.total: pipelines/gold/total.sql:3: ",
		`Referenced column "amount_typo" not found`,
		"    > 3 |        sum(amount_typo) AS typo\n",
		"      4 | FROM {{ ref('silver.orders') }}\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rat runs show does not print %q:\n%s", want, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "gold.big") && (!strings.Contains(l, "view") || strings.Contains(l, " 0 ")) {
			t.Errorf("the view's line says it has rows: %q", l)
		}
	}
	progress := ""
	for _, l := range strings.Split(errs, "\n") {
		if strings.Contains(l, "✓ gold.big") {
			progress = l
		}
	}
	if !strings.Contains(progress, "view") || strings.Contains(progress, "0 rows") {
		t.Errorf("rat run's progress line of the view: %q\n%s", progress, errs)
	}
}
