package pipeline

import (
	"errors"
	"strings"
	"testing"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/workspace"
)

func TestLocate(t *testing.T) {
	const file = "pipelines/gold/daily.sql"
	source := "-- @description: revenue per day\nSELECT day,\n       sum(amount_typo) AS revenue\nFROM {{ ref('silver.orders') }}\nGROUP BY ALL\n"
	rendered := "-- @description: revenue per day\nSELECT day,\n       sum(amount_typo) AS revenue\nFROM silver.orders\nGROUP BY ALL\n"
	binder := "read source: Binder Error: Referenced column \"amount_typo\" not found in FROM clause!\nCandidate bindings: \"amount\"\n\nLINE 3:        sum(amount_typo) AS revenue\n                   ^"
	tests := []struct {
		name, source, rendered, msg string
		line                        int
		marked                      string // the excerpt's marked line
		message                     string
	}{
		{"duckdb line found in the file", source, rendered, binder, 3, "> 3 |        sum(amount_typo) AS revenue",
			"read source: Binder Error: Referenced column \"amount_typo\" not found in FROM clause!\nCandidate bindings: \"amount\""},
		{"template line keeps its number", source, rendered, "Catalog Error: Table silver.orders does not exist\n\nLINE 4: FROM silver.orders\n     ^", 4,
			"> 4 | FROM {{ ref('silver.orders') }}", "Catalog Error: Table silver.orders does not exist"},
		{"lines a template removed", "SELECT a,\n{% if is_incremental() %}\n  b,\n{% endif %}\n  bad_col\nFROM t\n", "SELECT a,\n  bad_col\nFROM t\n",
			"Binder Error: bad_col\n\nLINE 2:   bad_col\n  ^", 5, "> 5 |   bad_col", "Binder Error: bad_col"},
		{"template engine's file:line", source, "", file + ":4: unknown table silver.ordres", 4, "> 4 | FROM {{ ref('silver.orders') }}", file + ":4: unknown table silver.ordres"},
		{"line only in the rendered SQL", "SELECT *\nFROM {{ landing('orders') }}\n", "SELECT *\nFROM (SELECT a\n, b FROM x)\n",
			"Binder Error: b is odd\n\nLINE 3: , b FROM x)\n  ^", 0, "> 3 | , b FROM x)", "Binder Error: b is odd (at line 3 of the rendered SQL)"},
		{"no position", source, rendered, "disk full", 0, "", "disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := locate(file, tt.source, tt.rendered, tt.msg)
			if loc.line != tt.line || loc.message != tt.message {
				t.Errorf("line %d, message %q; want %d, %q", loc.line, loc.message, tt.line, tt.message)
			}
			if tt.marked == "" {
				if loc.excerpt != "" {
					t.Errorf("excerpt %q, want none", loc.excerpt)
				}
				return
			}
			if !strings.Contains(loc.excerpt, tt.marked+"\n") || strings.Count(loc.excerpt, ">") != 1 {
				t.Errorf("excerpt does not mark %q:\n%s", tt.marked, loc.excerpt)
			}
		})
	}
}

func TestNodeFailedSaysWhere(t *testing.T) {
	var n NodeResult
	err := rat.Errorf(rat.EINVALID, "read source: Binder Error: Referenced column \"x\" not found\nCandidate bindings: \"y\"\n\nLINE 2: SELECT x\n  ^")
	failed(&n, err, &workspace.Pipeline{File: "pipelines/silver/a.sql", SQL: "-- @materialized: table\nSELECT x\nFROM t\n"}, "-- @materialized: table\nSELECT x\nFROM t\n")
	want := `pipelines/silver/a.sql:2: read source: Binder Error: Referenced column "x" not found Candidate bindings: "y"`
	if n.Status != StatusFailed || n.Error != want || n.Code != rat.EINVALID || n.File != "pipelines/silver/a.sql" || n.Line != 2 {
		t.Fatalf("node %+v\nwant error %q", n, want)
	}
	if !strings.Contains(n.Excerpt, "> 2 | SELECT x") {
		t.Fatalf("excerpt:\n%s", n.Excerpt)
	}
	var other NodeResult
	failed(&other, errors.New("boom"), &workspace.Pipeline{File: "pipelines/silver/a.sql", SQL: "SELECT 1\n"}, "")
	if other.Error != "pipelines/silver/a.sql: boom" || other.Code != rat.EINTERNAL || other.Line != 0 {
		t.Fatalf("node %+v", other)
	}
}
