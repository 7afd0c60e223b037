package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitStatus runs a real command of each error class and checks its
// exit status: scripts tell a conflict from a missing table by it.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.write("a.csv", "id,v\n1,2\n")
	u.write("ws/workspace.yaml", "name: shop\n")
	u.write("ws/pipelines/silver/orders.sql", "SELECT * FROM (VALUES (1, 10.0), (2, -5.0)) t(id, amount)\n")
	u.write("ws/pipelines/silver/orders.yaml", "columns:\n  - {name: amount, tests: [positive]}\n")
	u.write("ws/pipelines/gold/total.sql", "SELECT sum(amount_typo) AS total FROM {{ ref('silver.orders') }}\n")

	cases := []struct {
		status int
		args   []string
	}{
		{0, []string{"load", "a.csv", "--into", "bronze.a"}},
		{1, []string{"runs", "list", "--server", "http://127.0.0.1:1"}}, // nothing listens: unavailable
		{2, []string{"query", "--nope", "SELECT 1"}},
		{2, []string{"nope"}},
		{2, []string{"describe", "bronze.a", "--snapshot-id", "--json"}},
		{2, []string{"load", "a.csv", "--into", "notatable"}},
		{2, []string{"query", "SELEC 1"}},
		{2, []string{"-C", "ws", "run", "+gold.total"}}, // a pipeline's SQL mistake
		{4, []string{"query", "SELECT * FROM bronze.nope"}},
		{4, []string{"runs", "show", "nope"}},
		{4, []string{"load", "missing.csv", "--into", "bronze.b"}},
		{0, []string{"branch", "create", "dev"}},
		{3, []string{"branch", "create", "dev"}},
		{0, []string{"load", "a.csv", "--into", "bronze.a", "--branch", "dev", "--mode", "replace"}},
		{0, []string{"load", "a.csv", "--into", "bronze.a", "--mode", "replace"}},
		{3, []string{"merge", "dev"}},                     // both sides rewrote bronze.a
		{5, []string{"-C", "ws", "run", "silver.orders"}}, // amount -5 fails the positive test
		{0, []string{"-C", "ws", "load", "good.csv", "--into", "silver.orders"}},
		{0, []string{"-C", "ws", "test", "silver.orders"}},
		{0, []string{"-C", "ws", "load", "bad.csv", "--into", "silver.orders", "--mode", "replace"}},
		{5, []string{"-C", "ws", "test", "silver.orders"}},
	}
	u.write("good.csv", "id,amount\n1,2.5\n")
	u.write("bad.csv", "id,amount\n1,-2.5\n")
	for _, c := range cases {
		_, errs, code := u.run(c.args...)
		if code != c.status {
			t.Errorf("rat %s: exit %d, want %d\n%s", strings.Join(c.args, " "), code, c.status, errs)
		}
	}
}

// TestExitStatusDocumented: 'rat --help' and README.md list the same exit
// statuses as the table the code uses.
func TestExitStatusDocumented(t *testing.T) {
	help := exitStatusHelp()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exitStatuses {
		if !strings.Contains(help, fmt.Sprintf("%-3d  %s", e.status, e.means)) {
			t.Errorf("rat --help does not list exit status %d", e.status)
		}
		row := fmt.Sprintf("| %d | %s |", e.status, e.means)
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md does not list exit status %d: want the row %q", e.status, row)
		}
	}
}
