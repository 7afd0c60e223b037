package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The README's shell blocks are a newcomer's first contact with rat: every
// command must work when pasted in order from a fresh clone, and every
// number a comment states ("# 600") must be in what the command printed.
//
// A block that cannot run in a test carries a marker on the line before its
// fence, visible in the README's source:
//
//	<!-- readme-check: skip (why) -->   the block is not run
//	<!-- readme-check: built (why) -->  the block's "go build -o rat ./cmd/rat"
//	                                    is the binary the tests built; the rest runs
//
// Any other shell block runs, so a new block is either checked or visibly
// excused.

// readmeBlock is one fenced shell block of the README.
type readmeBlock struct {
	line   int      // line of the opening fence
	marker string   // "", "skip" or "built"
	reason string   // the marker's reason
	cmds   []string // commands, one per logical line (continuations joined)
}

var (
	readmeMarker = regexp.MustCompile(`^<!--\s*readme-check:\s*(\S+)\s*(?:\((.*)\))?\s*-->$`)
	readmeNumber = regexp.MustCompile(`[+-]?\d[\d,]*`)
)

// shellFences are the info strings of fences holding shell commands; a
// fence without one must say what it holds.
var shellFences = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true, "zsh": true}

// parseReadme returns the README's shell blocks, or the problems that make
// a block impossible to check.
func parseReadme(text string) ([]readmeBlock, []string) {
	var blocks []readmeBlock
	var problems []string
	lines := strings.Split(text, "\n")
	prev := "" // the last non-blank line before the current one
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "```") {
			if l != "" {
				prev = l
			}
			continue
		}
		info := strings.Fields(strings.TrimPrefix(l, "```"))
		lang := ""
		if len(info) > 0 {
			lang = info[0]
		}
		start := i + 1
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
			body = append(body, lines[i])
		}
		marker := readmeMarker.FindStringSubmatch(prev)
		prev = ""
		if lang == "" {
			problems = append(problems, fmt.Sprintf("README.md:%d: a fence without a language: tag it (```sh for commands, ```text for anything else)", start))
			continue
		}
		if !shellFences[lang] {
			if marker != nil {
				problems = append(problems, fmt.Sprintf("README.md:%d: a readme-check marker before a ```%s block: markers are for shell blocks", start, lang))
			}
			continue
		}
		b := readmeBlock{line: start}
		if marker != nil {
			b.marker, b.reason = marker[1], strings.TrimSpace(marker[2])
			if b.marker != "skip" && b.marker != "built" {
				problems = append(problems, fmt.Sprintf("README.md:%d: readme-check marker %q: want skip or built", start-1, b.marker))
			}
			if b.reason == "" {
				problems = append(problems, fmt.Sprintf("README.md:%d: readme-check marker without a reason: write <!-- readme-check: %s (why) -->", start-1, b.marker))
			}
		}
		cmd := ""
		for _, c := range body {
			c = strings.TrimSpace(c)
			if c == "" || (cmd == "" && strings.HasPrefix(c, "#")) {
				continue
			}
			if strings.HasSuffix(c, `\`) {
				cmd += strings.TrimSpace(strings.TrimSuffix(c, `\`)) + " "
				continue
			}
			b.cmds = append(b.cmds, cmd+c)
			cmd = ""
		}
		if b.marker == "built" {
			var rest []string
			built := false
			for _, c := range b.cmds {
				if after, ok := strings.CutPrefix(c, "go build -o rat ./cmd/rat"); ok && !built {
					built = true
					after = strings.TrimSpace(after)
					if a, ok := strings.CutPrefix(after, "&&"); ok {
						after = strings.TrimSpace(a)
					}
					if after != "" {
						rest = append(rest, after)
					}
					continue
				}
				rest = append(rest, c)
			}
			if !built {
				problems = append(problems, fmt.Sprintf("README.md:%d: marked built, but the block has no 'go build -o rat ./cmd/rat'", start))
			}
			b.cmds = rest
		}
		blocks = append(blocks, b)
	}
	return blocks, problems
}

// shellComment splits a command line into the command and its trailing
// comment: a # that starts a word outside quotes.
func shellComment(line string) (cmd, comment string) {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		}
	}
	return strings.TrimSpace(line), ""
}

// statedNumbers are the numbers a comment claims ("# 600", "# +100 rows",
// "# 1,100"), without thousands separators.
func statedNumbers(comment string) []string {
	var out []string
	for _, n := range readmeNumber.FindAllString(comment, -1) {
		out = append(out, strings.ReplaceAll(n, ",", ""))
	}
	return out
}

// printed reports whether output holds n as a number of its own.
func printed(output, n string) bool {
	re := regexp.MustCompile(`(^|[^\d.,+-])` + regexp.QuoteMeta(n) + `($|[^\d.,])`)
	return re.MatchString(output)
}

func TestReadmeParse(t *testing.T) {
	text := "intro\n\n<!-- readme-check: built (the tests built it) -->\n```sh\ngo build -o rat ./cmd/rat && ./rat demo\n```\n" +
		"<!-- readme-check: skip (it is the test command) -->\n```sh\nscripts/test.sh\n```\n" +
		"```sh\n./rat load a.csv \\\n  --into bronze.a   # 3 rows\n# a comment line\n./rat query \"SELECT '#'\"\n```\n```sql\nSELECT 1\n```\n"
	blocks, problems := parseReadme(text)
	if len(problems) != 0 || len(blocks) != 3 {
		t.Fatalf("blocks %+v, problems %v", blocks, problems)
	}
	if b := blocks[0]; b.marker != "built" || len(b.cmds) != 1 || b.cmds[0] != "./rat demo" {
		t.Errorf("built block: %+v", b)
	}
	if b := blocks[1]; b.marker != "skip" || b.reason != "it is the test command" {
		t.Errorf("skipped block: %+v", b)
	}
	b := blocks[2]
	if len(b.cmds) != 2 {
		t.Fatalf("commands %q", b.cmds)
	}
	if cmd, comment := shellComment(b.cmds[0]); cmd != "./rat load a.csv --into bronze.a" || comment != "3 rows" {
		t.Errorf("split %q: %q / %q", b.cmds[0], cmd, comment)
	}
	if _, comment := shellComment(b.cmds[1]); comment != "" {
		t.Errorf("a # inside quotes is not a comment: %q", comment)
	}
	if got := statedNumbers("bronze.sales changed, +100 rows, 1,100 in all"); strings.Join(got, " ") != "+100 1100" {
		t.Errorf("numbers %q", got)
	}
	if !printed("count_star()\n600\n", "600") || printed("6000\n", "600") || printed("1.600", "600") || !printed("DELTA +100", "+100") {
		t.Error("printed matches numbers of their own only")
	}
	for _, bad := range []string{
		"```\nls\n```\n",
		"<!-- readme-check: skip -->\n```sh\nls\n```\n",
		"<!-- readme-check: maybe (x) -->\n```sh\nls\n```\n",
		"<!-- readme-check: built (x) -->\n```sh\nls\n```\n",
	} {
		if _, problems := parseReadme(bad); len(problems) == 0 {
			t.Errorf("no problem found in %q", bad)
		}
	}
}

// TestReadme runs the README's shell blocks in order in a fresh directory
// holding what a clone gives them (examples/) and the built binary as
// ./rat, in one sh, as a newcomer pasting them would.
func TestReadme(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, problems := parseReadme(string(text))
	for _, p := range problems {
		t.Error(p)
	}
	if t.Failed() {
		return
	}
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "examples"), os.DirFS(filepath.Join("..", "..", "examples"))); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(ratBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rat"), bin, 0o755); err != nil {
		t.Fatal(err)
	}

	// One script: a marker line on stdout and stderr before each command,
	// so each command's output can be cut out of the streams.
	type step struct {
		block   readmeBlock
		cmd     string
		comment string
	}
	var steps []step
	var script strings.Builder
	for _, b := range blocks {
		if b.marker == "skip" {
			t.Logf("README.md:%d: not run (%s)", b.line, b.reason)
			continue
		}
		for _, c := range b.cmds {
			cmd, comment := shellComment(c)
			// The braces make a failure anywhere in the line (the first
			// half of an &&, too) end the script with its status.
			fmt.Fprintf(&script, "echo '@@step %d'; echo '@@step %d' >&2\n{ %s\n} || exit $?\n", len(steps), len(steps), c)
			steps = append(steps, step{b, cmd, comment})
		}
	}
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		// A command that never ends (a server) would otherwise hang the
		// suite; it needs a skip marker.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-30*time.Second))
		defer cancel()
	}
	sh := exec.CommandContext(ctx, "sh", "-c", script.String())
	sh.Dir = dir
	sh.WaitDelay = 10 * time.Second // a command left running keeps the output pipes open
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RAT_") || strings.HasPrefix(name, "S3_") || strings.HasPrefix(name, "ICEBERG_") {
			continue // a newcomer's shell has none of these
		}
		sh.Env = append(sh.Env, kv)
	}
	sh.Env = append(sh.Env, "RAT_PROFILE=tiny")
	var stdout, stderr bytes.Buffer
	sh.Stdout, sh.Stderr = &stdout, &stderr
	runErr := sh.Run()

	outs, errs := splitSteps(stdout.String()), splitSteps(stderr.String())
	last := -1
	for i := range steps {
		if _, ok := outs[i]; ok {
			last = i
		}
	}
	for i, s := range steps {
		if i > last {
			break
		}
		where := fmt.Sprintf("README.md (block at line %d): %s", s.block.line, s.cmd)
		if i == last && runErr != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", where, runErr, outs[i], errs[i])
		}
		all := outs[i] + "\n" + errs[i]
		for _, n := range statedNumbers(s.comment) {
			if !printed(all, n) {
				t.Errorf("%s: the README says %q, but %s is not in the output:\n%s", where, s.comment, n, all)
			}
		}
	}
	if runErr != nil {
		t.Fatalf("the README's commands did not run: %v\nstderr:\n%s", runErr, stderr.String())
	}
	if last != len(steps)-1 {
		t.Fatalf("ran %d of %d README commands", last+1, len(steps))
	}
}

// splitSteps cuts a stream at the "@@step N" lines.
func splitSteps(s string) map[int]string {
	out := map[int]string{}
	cur := -1
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "@@step %d", &n); err == nil && strings.HasPrefix(sc.Text(), "@@step ") {
			if cur >= 0 {
				out[cur] = b.String()
			}
			cur, b = n, strings.Builder{}
			continue
		}
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	if cur >= 0 {
		out[cur] = b.String()
	}
	return out
}
