package trigger

import (
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	t.Parallel()
	name := func(typ string, raw map[string]any) string {
		t.Helper()
		n, err := Name(typ, raw, "x.yaml:2")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	daily := name("schedule", map[string]any{"type": "schedule", "cron": "0 0 * * *"})
	if !strings.HasPrefix(daily, "schedule-") || len(daily) != len("schedule-")+8 {
		t.Fatalf("name of a schedule = %q, want schedule-<8 hex>", daily)
	}
	// The same schedule however it is written, and whatever its policy.
	for _, raw := range []map[string]any{
		{"type": "schedule", "cron": "daily"},
		{"type": "schedule", "schedule": "0  0 * * *", "timezone": "UTC"},
		{"type": "schedule", "cron": "0 0 * * *", "catch_up": "all"},
	} {
		if got := name("schedule", raw); got != daily {
			t.Errorf("name of %v = %s, want %s", raw, got, daily)
		}
	}
	// What it fires on makes another trigger.
	for _, raw := range []map[string]any{
		{"type": "schedule", "cron": "0 1 * * *"},
		{"type": "schedule", "cron": "0 0 * * *", "timezone": "Europe/Paris"},
	} {
		if got := name("schedule", raw); got == daily {
			t.Errorf("name of %v = %s, the same as daily's", raw, got)
		}
	}
	if a, b := name("after", map[string]any{"pipelines": []any{"silver.a", "Silver.B"}}), name("after", map[string]any{"pipelines": []any{"silver.b", "silver.a"}}); a != b {
		t.Errorf("after triggers on the same pipelines: %s and %s", a, b)
	}
	if got := name("landing", map[string]any{"type": "s3_sensor"}); got != "landing" {
		t.Errorf("a landing trigger without settings = %s, want landing", got)
	}
	if got := name("schedule", map[string]any{"cron": "daily", "name": "nightly"}); got != "nightly" {
		t.Errorf("a named trigger = %s, want its name", got)
	}
	for _, bad := range []any{"", "1st", "a b", "a:b", 3} {
		if _, err := Name("schedule", map[string]any{"cron": "daily", "name": bad}, "x.yaml:2"); err == nil || !strings.Contains(err.Error(), "x.yaml:2: name") {
			t.Errorf("name %v: err = %v, want it refused with its place", bad, err)
		}
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]struct {
		pipeline, name string
		index          int
	}{
		"Gold.Daily:nightly":           {"gold.daily", "nightly", -1},
		"gold.daily:schedule-0a1b2c3d": {"gold.daily", "schedule-0a1b2c3d", -1},
		"gold.daily:2":                 {"gold.daily", "2", 2},
	} {
		p, n, i, err := ParseID(id)
		if err != nil || p != want.pipeline || n != want.name || i != want.index {
			t.Errorf("ParseID(%s) = %s %s %d %v, want %+v", id, p, n, i, err, want)
		}
	}
	for _, bad := range []string{"gold.daily", "gold.daily:", ":x"} {
		if _, _, _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%s): no error", bad)
		}
	}
	if !IsLegacyKey(LegacyKey("gold.daily", 3)) || IsLegacyKey(Key("gold.daily", "nightly")) || IsLegacyKey(Key("gold.daily", "schedule-01234567")) {
		t.Error("IsLegacyKey tells legacy keys from named ones wrongly")
	}
}
