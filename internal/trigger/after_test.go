package trigger

import (
	"slices"
	"strings"
	"testing"

	"github.com/ratdata/rat"
)

func TestParseAfter(t *testing.T) {
	got, err := ParseAfter(map[string]any{"type": "after", "pipelines": []any{"Silver.Orders", "silver.customers"}}, "p.yaml:3")
	if err != nil || !slices.Equal(got, []string{"silver.orders", "silver.customers"}) {
		t.Fatalf("ParseAfter = %v, %v", got, err)
	}
	for name, c := range map[string]struct {
		raw  map[string]any
		want string
	}{
		"no list":     {map[string]any{"type": "after"}, "needs pipelines:"},
		"empty list":  {map[string]any{"type": "after", "pipelines": []any{}}, "needs pipelines:"},
		"not a name":  {map[string]any{"type": "after", "pipelines": []any{3}}, "pipelines[0]"},
		"unknown key": {map[string]any{"type": "after", "pipeline": []any{"a.b"}}, `unknown key "pipeline"`},
	} {
		_, err := ParseAfter(c.raw, "p.yaml:3")
		if !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "p.yaml:3") {
			t.Errorf("%s: err = %v, want %q with the place", name, err, c.want)
		}
	}
}

func TestFollowers(t *testing.T) {
	after := map[string][]string{
		"gold.report":  {"silver.orders", "silver.customers"},
		"gold.daily":   {"silver.orders"},
		"gold.weekly":  {"gold.daily"},
		"gold.ping":    {"gold.pong"},
		"gold.pong":    {"gold.ping"},
		"gold.ignored": {"silver.other"},
	}
	start, cyclic := Followers(after, []string{"silver.customers"})
	if !slices.Equal(start, []string{"gold.report"}) || len(cyclic) != 0 {
		t.Fatalf("after silver.customers: start %v, cyclic %v", start, cyclic)
	}
	// A run that built a follower itself does not start it again.
	start, _ = Followers(after, []string{"silver.orders", "gold.daily"})
	if !slices.Equal(start, []string{"gold.report", "gold.weekly"}) {
		t.Fatalf("after silver.orders and gold.daily: %v", start)
	}
	start, cyclic = Followers(after, []string{"gold.pong"})
	if len(start) != 0 || !slices.Equal(cyclic, []string{"gold.ping"}) {
		t.Fatalf("a cycle must not start: start %v, cyclic %v", start, cyclic)
	}
}
