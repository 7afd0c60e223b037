package rat

import (
	"strings"
	"testing"
)

func TestReservedNames(t *testing.T) {
	t.Parallel()
	for name, reserved := range map[string]bool{
		"run/20260101-abc": true, "ingest/x": true, "Run/x": true, "INGEST/y": true,
		"dev": false, "runs/x": false, "feature/run/x": false, "rerun/x": false, "run": false,
	} {
		if got := ReservedRefName(name); got != reserved {
			t.Errorf("ReservedRefName(%q) = %v, want %v", name, got, reserved)
		}
		err := ValidateUserRefName(name, Branch)
		if reserved && (err == nil || !IsCode(err, EINVALID) || !strings.Contains(err.Error(), "is reserved")) {
			t.Errorf("ValidateUserRefName(%q) = %v, want it reserved", name, err)
		}
		if !reserved && err != nil {
			t.Errorf("ValidateUserRefName(%q) = %v", name, err)
		}
	}
	if err := ValidateUserRefName("run/x", Tag); err == nil || !strings.Contains(err.Error(), `tag name "run/x" is reserved`) || !strings.Contains(err.Error(), "dev/x") {
		t.Errorf("a tag run/x: %v, want it refused with a suggestion", err)
	}
	for id, internal := range map[TableID]bool{{"_rat", "landing_files"}: true, {"_RAT", "x"}: true, {"bronze", "_rat"}: false, {"_rat_x", "y"}: false} {
		if id.Internal() != internal {
			t.Errorf("%v.Internal() = %v, want %v", id, !internal, internal)
		}
	}
}
