package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// walkCommands calls fn for every command of rat's tree, the root first.
func walkCommands(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walkCommands(sub, fn)
	}
}

// TestEveryCommandHasAnExample: every command's --help shows at least one
// example, and each example line names a real command with real flags.
func TestEveryCommandHasAnExample(t *testing.T) {
	root := newRoot(&globals{stdout: io.Discard, stderr: io.Discard})
	walkCommands(root, func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("'%s --help' shows no example: set Example on the command", c.CommandPath())
			return
		}
		n := 0
		for _, line := range strings.Split(c.Example, "\n") {
			for _, seg := range exampleCommands(line) {
				n++
				args, err := shellWords(seg)
				if err != nil {
					t.Errorf("%s: example %q: %v", c.CommandPath(), seg, err)
					continue
				}
				fresh := newRoot(&globals{stdout: io.Discard, stderr: io.Discard})
				found, rest, err := fresh.Find(args[1:])
				if err != nil {
					t.Errorf("%s: example %q: %v", c.CommandPath(), seg, err)
					continue
				}
				if err := found.ParseFlags(rest); err != nil {
					t.Errorf("%s: example %q: %v", c.CommandPath(), seg, err)
				}
			}
		}
		if n == 0 {
			t.Errorf("'%s --help': no example line starts with 'rat '", c.CommandPath())
		}
	})
}

// exampleCommands returns the rat invocations of one example line: the
// parts of "rat a && rat b | x", and "rat c" inside "X=$(rat c)".
func exampleCommands(line string) []string {
	var out []string
	for _, seg := range strings.FieldsFunc(line, func(r rune) bool { return r == '&' || r == '|' || r == ';' }) {
		seg = strings.TrimSpace(seg)
		if i := strings.Index(seg, "$(rat "); i >= 0 {
			seg = strings.TrimSuffix(seg[i+2:], ")")
		}
		if strings.HasPrefix(seg, "rat ") {
			out = append(out, seg)
		}
	}
	return out
}

// shellWords splits a command line like sh does for the quoting examples
// use: single and double quotes, no escapes or expansions.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errUnclosedQuote
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

var errUnclosedQuote = &usageError{msg: "unclosed quote"}
