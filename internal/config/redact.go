package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Secret is a string that never prints itself.
type Secret string

// String redacts the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "******"
}

// GoString redacts the value in %#v too.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalText redacts the value in JSON, YAML and log/slog output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// redacted returns a copy of c whose URL-shaped values hide their passwords.
func (c Config) redacted() redactedConfig {
	c.CatalogURL = RedactURL(c.CatalogURL)
	c.Warehouse = RedactURL(c.Warehouse)
	c.S3.Endpoint = RedactURL(c.S3.Endpoint)
	return redactedConfig(c)
}

// redactedConfig has Config's fields without its methods, so that printing
// it does not recurse into String.
type redactedConfig Config

// String prints the configuration like %+v does, with passwords hidden: a
// Postgres catalog URL holds one, and a Config may end up in a log line.
func (c Config) String() string { return fmt.Sprintf("%+v", c.redacted()) }

// GoString is %#v with passwords hidden.
func (c Config) GoString() string {
	return strings.Replace(fmt.Sprintf("%#v", c.redacted()), "config.redactedConfig", "config.Config", 1)
}

// MarshalJSON encodes the configuration with passwords hidden.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.redacted()) }

// RedactURL hides the password of a URL-shaped connection string, in the
// user-info part and in a password= query parameter (both are accepted by
// Postgres drivers). Other strings are returned as they are.
func RedactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	// The authority ends at the first '/', '?' or '#'; inside it the last '@'
	// ends the user info (as net/url parses it), so a password may hold '@'.
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	authority, tail := rest[:end], rest[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		if user, _, hasPass := strings.Cut(authority[:at], ":"); hasPass {
			authority = user + ":******" + authority[at:]
		}
	}
	if path, query, ok := strings.Cut(tail, "?"); ok {
		params := strings.Split(query, "&")
		for i, p := range params {
			if k, _, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "password") {
				params[i] = k + "=******"
			}
		}
		tail = path + "?" + strings.Join(params, "&")
	}
	return scheme + "://" + authority + tail
}
