package config_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestAllowedHosts(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, noWorkspace(t), env{"RAT_ALLOWED_HOSTS": " rat.example.com, RAT.internal. ,10.0.0.7,[fd00::1],, rat_svc.default"}, nil)
	want := []string{"rat.example.com", "rat.internal", "10.0.0.7", "[fd00::1]", "rat_svc.default"}
	if !slices.Equal(c.AllowedHosts, want) {
		t.Errorf("AllowedHosts = %q, want %q", c.AllowedHosts, want)
	}
	if got := setting(t, c, "allowed_hosts"); got.Value != strings.Join(want, ",") || got.Source != "env RAT_ALLOWED_HOSTS" {
		t.Errorf("rat config shows allowed_hosts = %q from %q", got.Value, got.Source)
	}
	for _, bad := range []string{"https://rat.example.com", "rat.example.com:3030", "rat.example.com/ui", "*.example.com", "rat example.com", "-rat.example.com", "rat..example.com"} {
		msg := loadErr(t, noWorkspace(t), env{"RAT_ALLOWED_HOSTS": "ok.example.com," + bad}, nil)
		contains(t, "error", msg, "RAT_ALLOWED_HOSTS", fmt.Sprintf("%q is not a host name", bad), "without scheme, port")
	}
}

func TestMetricsToken(t *testing.T) {
	t.Parallel()
	const secret = "metrics-SECRET-value-3456"
	c := mustLoad(t, noWorkspace(t), env{"RAT_METRICS_TOKEN": secret}, nil)
	if c.MetricsToken.Reveal() != secret {
		t.Fatalf("MetricsToken = %q", c.MetricsToken.Reveal())
	}
	got := setting(t, c, "metrics_token")
	if got.Value != "******" || got.Source != "env RAT_METRICS_TOKEN" {
		t.Errorf("rat config shows metrics_token = %q from %q", got.Value, got.Source)
	}
	if out := fmt.Sprintf("%+v %#v %v", *c, c, c.Settings()); strings.Contains(out, secret) {
		t.Errorf("the metrics token is printed: %s", out)
	}
}
