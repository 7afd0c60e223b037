package server

import (
	"bytes"
	"errors"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/ratdata/rat"
)

// LoadTokens reads a token file: named tokens with roles,
//
//	tokens:
//	  - name: dashboards
//	    token: 9f…
//	    role: read
//
// Names must be unique and tokens at least 16 characters long.
func LoadTokens(path string) ([]Token, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "read the token file: %w", err)
	}
	var file struct {
		Tokens []struct {
			Name  string `yaml:"name"`
			Token string `yaml:"token"`
			Role  string `yaml:"role"`
		} `yaml:"tokens"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		// yaml's messages carry line numbers and never the values.
		return nil, rat.Errorf(rat.EINVALID, "%s: %s (want tokens: [{name, token, role}])", path, err.Error())
	}
	if len(file.Tokens) == 0 {
		return nil, rat.Errorf(rat.EINVALID, "%s holds no tokens: list them under tokens: with name, token and role", path)
	}
	seen := map[string]bool{}
	out := make([]Token, 0, len(file.Tokens))
	for i, t := range file.Tokens {
		if t.Name == "" || seen[t.Name] {
			return nil, rat.Errorf(rat.EINVALID, "%s: token %d needs a unique name", path, i+1)
		}
		seen[t.Name] = true
		if len(t.Token) < 16 {
			return nil, rat.Errorf(rat.EINVALID, "%s: token %q is shorter than 16 characters: use a long random value (openssl rand -hex 32)", path, t.Name)
		}
		role, err := ParseRole(t.Role)
		if err != nil {
			return nil, rat.Errorf(rat.EINVALID, "%s: token %q: %s", path, t.Name, err.Error())
		}
		out = append(out, Token{Name: t.Name, Secret: t.Token, Role: role})
	}
	return out, nil
}
