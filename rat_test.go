package rat

import (
	"errors"
	"fmt"
	"testing"
)

func TestParseTableID(t *testing.T) {
	tests := []struct {
		in   string
		want TableID
		ok   bool
	}{
		{"bronze.sales", TableID{"bronze", "sales"}, true},
		{"silver.daily_2024", TableID{"silver", "daily_2024"}, true},
		{"Bronze.Sales", TableID{"bronze", "sales"}, true},
		{"sales", TableID{}, false},
		{"a.b.c", TableID{}, false},
		{"bronze.", TableID{}, false},
		{"1x.sales", TableID{}, false},
		{"bronze.sa-les", TableID{}, false},
	}
	for _, tt := range tests {
		got, err := ParseTableID(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseTableID(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !IsCode(err, EINVALID) {
			t.Errorf("ParseTableID(%q): code %s, want EINVALID", tt.in, ErrorCode(err))
		}
	}
}

func TestValidateRefName(t *testing.T) {
	for _, ok := range []string{"main", "dev", "feature/x", "run/2024-01-01.1", "v1.0"} {
		if err := ValidateRefName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "bad..name", "a//b", "/x", "x/", "x.", "has space", "-x", "x.lock", "é"} {
		if err := ValidateRefName(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestErrors(t *testing.T) {
	cause := errors.New("disk full")
	err := fmt.Errorf("load bronze.sales: %w", Errorf(EUNAVAILABLE, "write file: %w", cause))
	if ErrorCode(err) != EUNAVAILABLE || !errors.Is(err, cause) {
		t.Fatalf("code %s, is cause %v", ErrorCode(err), errors.Is(err, cause))
	}
	if ErrorMessage(err) != "load bronze.sales: write file: disk full" {
		t.Fatalf("message %q", ErrorMessage(err))
	}
	if ErrorCode(errors.New("x")) != EINTERNAL || ErrorCode(nil) != "" {
		t.Fatal("default codes")
	}
}

func TestClosest(t *testing.T) {
	names := []string{"bronze.sales", "bronze.orders", "silver.sales"}
	for in, want := range map[string]string{"bronze.slaes": "bronze.sales", "bronze.order": "bronze.orders", "gold.x": ""} {
		if got := Closest(in, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}
