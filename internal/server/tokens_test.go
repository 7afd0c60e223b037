package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "tokens.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	toks, err := LoadTokens(write("tokens:\n  - {name: dash, token: aaaaaaaaaaaaaaaaaaaa, role: read}\n  - {name: ci, token: bbbbbbbbbbbbbbbbbbbb, role: run}\n"))
	if err != nil || len(toks) != 2 || toks[0].Role != RoleRead || toks[1].Role != RoleRun || toks[1].Name != "ci" {
		t.Fatalf("tokens %+v, %v", toks, err)
	}
	for body, want := range map[string]string{
		"tokens:\n  - {name: a, token: short, role: read}\n":                          "shorter than 16",
		"tokens:\n  - {name: a, token: aaaaaaaaaaaaaaaaaaaa, role: boss}\n":           "want read, run or admin",
		"tokens:\n  - {name: a, token: aaaaaaaaaaaaaaaaaaaa, role: read, scope: x}\n": "scope",
		"tokens: []\n": "holds no tokens",
		"tokens:\n  - {name: a, token: aaaaaaaaaaaaaaaaaaaa, role: read}\n  - {name: a, token: bbbbbbbbbbbbbbbbbbbb, role: run}\n": "unique name",
	} {
		_, err := LoadTokens(write(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "aaaaaaaaaaaaaaaa") {
			t.Errorf("the error shows a token: %v", err)
		}
	}
}
