package config

import (
	"net"
	"strings"

	"github.com/ratdata/rat"
)

// loadServeEnv reads the settings that protect rat serve:
// RAT_ALLOWED_HOSTS and RAT_METRICS_TOKEN.
func (c *Config) loadServeEnv(lookup func(string) (string, bool)) error {
	if v, ok := lookup("RAT_ALLOWED_HOSTS"); ok && strings.TrimSpace(v) != "" {
		hosts, err := ParseAllowedHosts(v)
		if err != nil {
			return rat.Errorf(rat.EINVALID, "environment variable RAT_ALLOWED_HOSTS: %w", err)
		}
		c.AllowedHosts = hosts
		c.sources["allowed_hosts"] = "env RAT_ALLOWED_HOSTS"
	}
	if v, ok := lookup("RAT_METRICS_TOKEN"); ok && v != "" {
		c.MetricsToken = Secret(v)
		c.sources["metrics_token"] = "env RAT_METRICS_TOKEN"
	}
	return nil
}

// ParseAllowedHosts reads a comma-separated list of host names or IP
// addresses, without scheme, port or path: "rat.example.com, 10.0.0.7".
func ParseAllowedHosts(v string) ([]string, error) {
	var out []string
	for _, h := range strings.Split(v, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if !validHost(h) {
			return nil, rat.Errorf(rat.EINVALID, "%q is not a host name: list names like rat.example.com (or IP addresses), comma-separated, without scheme, port, path or wildcard", h)
		}
		out = append(out, strings.ToLower(strings.TrimSuffix(h, ".")))
	}
	return out, nil
}

// validHost accepts a DNS name (letters, digits, '-' and '_' in labels
// separated by dots) or an IP address, IPv6 with or without brackets.
func validHost(h string) bool {
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); ip != nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
