package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// envName is an environment variable name of rat's families as a Go
// string literal or in backticks in Markdown (`NAME` or `NAME=value`).
var envName = regexp.MustCompile("[\"`]((?:RAT|S3|ICEBERG)_[A-Z0-9_]+)[\"`=]")

// TestEnvVarsDocumented: every variable rat's code reads is one Load
// accepts (an unknown RAT_* is an error, so a variable read elsewhere but
// missing here cannot be set at all), README.md documents each of them,
// and the README names no variable rat does not read.
func TestEnvVarsDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	read := map[string]string{} // variable -> a file naming it
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || rel == filepath.Join("internal", "testenv") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range envName.FindAllStringSubmatch(string(data), -1) {
			if !strings.HasPrefix(m[1], "RAT_TEST_") {
				read[m[1]] = rel
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, file := range read {
		if !knownEnv[name] {
			t.Errorf("%s reads %s, but config does not accept it (rat refuses to start with it set): add it to knownEnv", file, name)
		}
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range envName.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	names := keys(knownEnv)
	sort.Strings(names)
	for _, name := range names {
		if !documented[name] {
			t.Errorf("README.md does not document %s: add it to the settings table (\"Where state lives\") or near its feature, in backticks", name)
		}
	}
	for name := range documented {
		if !knownEnv[name] && !strings.HasPrefix(name, "RAT_TEST_") {
			t.Errorf("README.md names %s, which rat does not read", name)
		}
	}
}

// TestDebugVariableAccepted: RAT_DEBUG, which the command line reads, does
// not make rat refuse to start as an unknown RAT_* variable.
func TestDebugVariableAccepted(t *testing.T) {
	env := map[string]string{"RAT_DEBUG": "1"}
	_, err := Load(Options{Dir: t.TempDir(), Environ: []string{"RAT_DEBUG=1"}, Env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		t.Fatalf("RAT_DEBUG=1: %v", err)
	}
}
