package workspace

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/builtins"
	gonjacfg "github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
	"github.com/ratdata/rat"
)

// RenderContext is what a template sees during one rendering.
type RenderContext struct {
	// Ref returns the SQL text to substitute for ref('x'); nil renders the
	// quoted name "layer"."name".
	Ref func(id rat.TableID) (string, error)
	// This is the SQL text for {{ this }}; "" means the pipeline's quoted name.
	This string
	// Incremental is what is_incremental() returns.
	Incremental bool
	// Watermark returns the text for watermark('col'). The original
	// Ratatouille's files quote it themselves ('{{ watermark("col") }}').
	Watermark func(column string) (string, error)
	// Landing returns the SQL relation text for landing('zone') and source('zone').
	Landing func(zone string) (string, error)
	// Vars are var() values; they win over the pipeline's vars, which win
	// over workspace.yaml's.
	Vars map[string]any
	// Env looks up env_var('X'); nil uses LoadOptions.Env.
	Env func(string) (string, bool)
	// RunStartedAt is run_started_at (an ISO 8601 timestamp in UTC); zero
	// means the time of rendering.
	RunStartedAt time.Time
}

// templateNames are the names a template can use, for "did you mean".
var templateNames = []string{"ref", "this", "is_incremental", "watermark", "landing", "source", "var", "env_var", "run_started_at"}

var (
	atLineRE     = regexp.MustCompile(`at line (\d+): `)
	undefinedRE  = regexp.MustCompile(`Unable to evaluate name "([^"]+)"`)
	notCallRE    = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_.]*) is not callable`)
	controlRepr  = regexp.MustCompile(`\w+ControlStructure\(Line=\d+ Col=\d+\): `)
	refCallRE    = regexp.MustCompile(`ref\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]+)['"]\s*)?\)`)
	gonjaParseRE = regexp.MustCompile(`^failed to parse template '(?s:.*)': `)
)

// recorder collects what a template reads while rendering for discovery.
type recorder struct {
	refs     map[rat.TableID]bool
	landings map[string]bool
}

// renderState keeps the first error one of rat's template functions raised:
// gonja flattens errors to text, and this keeps the code and the cause.
type renderState struct{ err error }

func (s *renderState) fail(err error) error {
	if s.err == nil {
		s.err = err
	}
	return err
}

// render renders src (from file; template line 1 is file line offset+1)
// for pipeline p.
func (w *Workspace) render(p *Pipeline, file, src string, offset int, rc RenderContext) (string, error) {
	return w.execute(p, file, src, offset, rc, nil)
}

func (w *Workspace) execute(p *Pipeline, file, src string, offset int, rc RenderContext, rec *recorder) (out string, err error) {
	defer func() {
		// A template engine bug must not take the process down with it.
		if r := recover(); r != nil {
			out, err = "", rat.Errorf(rat.EINVALID, "%s: template error: %v", file, r)
		}
	}()
	cfg := gonjacfg.New()
	cfg.StrictUndefined = true
	cfg.KeepTrailingNewline = true
	src = neutralizeHeader(src)
	if !strings.Contains(src, "{{") && !strings.Contains(src, "{%") && !strings.Contains(src, "{#") {
		// Plain SQL renders to itself; setting up the template engine
		// costs more than reading the file, which adds up in big workspaces.
		return src, nil
	}

	tpl, err := exec.NewTemplate("/template.sql", cfg, mustMemoryLoader(src), environment())
	if err != nil {
		line, msg := syntaxError(err, src, cfg)
		return "", rat.Errorf(rat.EINVALID, "%s: template syntax error: %s: fix the Jinja syntax", where(file, line, offset), msg)
	}
	st := &renderState{}
	out, err = tpl.ExecuteToString(exec.NewContext(w.functions(p, rc, st, rec)))
	if err != nil {
		line := 0
		if m := atLineRE.FindAllStringSubmatch(err.Error(), -1); m != nil {
			line, _ = strconv.Atoi(m[len(m)-1][1])
		}
		if st.err != nil {
			return "", rat.Errorf(codeOf(st.err), "%s: %w", where(file, line, offset), st.err)
		}
		return "", rat.Errorf(rat.EINVALID, "%s: %s", where(file, line, offset), runtimeMessage(err.Error()))
	}
	return out, nil
}

func codeOf(err error) string {
	var e *rat.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return rat.EINVALID
}

func where(file string, line, offset int) string {
	if line <= 0 {
		return file
	}
	return fmt.Sprintf("%s:%d", file, line+offset)
}

// syntaxError finds the line and the words of a template parse error.
func syntaxError(err error, src string, cfg *gonjacfg.Config) (int, string) {
	var se *parser.SyntaxError
	if errors.As(err, &se) && se.Line > 0 {
		return se.Line, strings.TrimSuffix(se.Message, ".")
	}
	// Lexer errors reach the parser without a line: lex again to find it.
	s := tokens.LexAll(src, cfg)
	for !s.End() {
		s.Next()
	}
	if s.IsError() {
		tok := s.Current()
		return strings.Count(src[:min(tok.Pos, len(src))], "\n") + 1, strings.TrimSuffix(tok.Val, ".")
	}
	msg := parseMessage(err)
	// Some parser errors carry no position: the first prefix of the file that
	// fails the same way ends on the faulty line.
	lines := strings.SplitAfter(src, "\n")
	for k := 1; k < len(lines); k++ {
		_, perr := exec.NewTemplate("/template.sql", cfg, mustMemoryLoader(strings.Join(lines[:k], "")), environment())
		if perr != nil && parseMessage(perr) == msg {
			return k, msg
		}
	}
	return 0, msg
}

// parseMessage is the words of a parse error, without the template source
// gonja puts in it.
func parseMessage(err error) string {
	var se *parser.SyntaxError
	msg := gonjaParseRE.ReplaceAllString(err.Error(), "")
	if errors.As(err, &se) {
		msg = se.Message
	}
	return strings.TrimSuffix(strings.TrimSpace(msg), ".")
}

// environment is a fresh gonja environment with the standard filters,
// tests and control structures.
func environment() *exec.Environment {
	return &exec.Environment{
		Context:           exec.EmptyContext().Update(builtins.GlobalFunctions),
		Filters:           builtins.Filters,
		Tests:             builtins.Tests,
		ControlStructures: builtins.ControlStructures,
		Methods:           builtins.Methods,
	}
}

func mustMemoryLoader(src string) loaders.Loader {
	l, err := loaders.NewMemoryLoader(map[string]string{"/template.sql": src})
	if err != nil {
		panic(err) // the key is constant and valid
	}
	return l
}

// runtimeMessage turns gonja's chain of "Unable to ... at line N: ..." into
// the innermost problem, in rat's words where it knows them.
func runtimeMessage(msg string) string {
	if m := undefinedRE.FindStringSubmatch(msg); m != nil {
		name := m[1]
		if best := rat.Closest(name, templateNames); best != "" {
			return fmt.Sprintf("undefined name %q (did you mean %q?)", name, best)
		}
		return fmt.Sprintf("undefined name %q: use var('%s') for a variable from workspace.yaml or the pipeline's vars, or set it with {%% set %s = ... %%}", name, name, name)
	}
	if m := notCallRE.FindStringSubmatch(msg); m != nil {
		if best := rat.Closest(m[1], templateNames); best != "" {
			return fmt.Sprintf("%s() is not a function (did you mean %s()?)", m[1], best)
		}
		return fmt.Sprintf("%s() is not a function: the functions are ref, is_incremental, watermark, landing, source, var and env_var", m[1])
	}
	if idx := atLineRE.FindAllStringIndex(msg, -1); idx != nil {
		msg = msg[idx[len(idx)-1][1]:]
	}
	msg = controlRepr.ReplaceAllString(msg, "")
	// gonja prefixes the innermost problem with its view of the nodes
	// ("call(['x'], map[]).y: Unable to evaluate ...: attribute 'y' not found").
	if strings.Contains(msg, "nable to ") {
		msg = msg[strings.LastIndex(msg, ": ")+2:]
	}
	return "template error: " + msg
}

// neutralizeHeader blanks header annotation lines that contain template
// delimiters: annotations are data, not template text. The line count stays.
func neutralizeHeader(src string) string {
	if !strings.Contains(src, "{") {
		return src
	}
	h := parseHeader(src)
	lines := strings.Split(src, "\n")
	changed := false
	for _, a := range h.annots {
		l := lines[a.Line-1]
		if strings.Contains(l, "{{") || strings.Contains(l, "{%") || strings.Contains(l, "{#") {
			lines[a.Line-1], changed = "--", true
		}
	}
	if !changed {
		return src
	}
	return strings.Join(lines, "\n")
}

// functions builds the template context for one rendering. With a recorder,
// it collects refs and landing zones and tolerates values only a run has
// (watermarks, missing vars and environment variables).
func (w *Workspace) functions(p *Pipeline, rc RenderContext, st *renderState, rec *recorder) map[string]any {
	started := rc.RunStartedAt
	if started.IsZero() {
		started = time.Now()
	}
	envLookup := rc.Env
	if envLookup == nil {
		envLookup = w.env
	}
	return map[string]any{
		"this":           rc.This,
		"run_started_at": started.UTC().Format(time.RFC3339Nano),
		"is_incremental": func() bool { return rc.Incremental },
		"ref": func(args *exec.VarArgs) (string, error) {
			name, err := stringArgs("ref", args, 1, 2, "ref('layer.name')")
			if err != nil {
				return "", st.fail(err)
			}
			id, err := w.resolveRef(strings.Join(name, "."))
			if err != nil {
				return "", st.fail(err)
			}
			if rec != nil {
				rec.refs[id] = true
				return quoteTable(id), nil
			}
			if rc.Ref == nil {
				return quoteTable(id), nil
			}
			s, err := rc.Ref(id)
			if err != nil {
				return "", st.fail(fmt.Errorf("ref('%s'): %w", id, err))
			}
			return s, nil
		},
		"watermark": func(args *exec.VarArgs) (string, error) {
			col, err := stringArgs("watermark", args, 1, 1, "watermark('column')")
			if err != nil {
				return "", st.fail(err)
			}
			switch {
			case rec != nil:
				return "1970-01-01 00:00:00", nil
			case rc.Watermark == nil:
				return "", st.fail(rat.Errorf(rat.EINVALID, "watermark('%s') has no value outside an incremental run: guard it with {%% if is_incremental() %%}", col[0]))
			}
			s, err := rc.Watermark(col[0])
			if err != nil {
				return "", st.fail(fmt.Errorf("watermark('%s'): %w", col[0], err))
			}
			return s, nil
		},
		"landing": w.landingFunc("landing", rc, st, rec),
		"source":  w.landingFunc("source", rc, st, rec),
		"var": func(args *exec.VarArgs) (any, error) {
			name, def, hasDef, err := argWithDefault("var", args, "var('name') or var('name', 'default')")
			if err != nil {
				return nil, st.fail(err)
			}
			for _, vars := range []map[string]any{rc.Vars, p.Config.Vars, w.Config.Vars} {
				if v, ok := vars[name]; ok {
					return v, nil
				}
			}
			switch {
			case hasDef:
				return def, nil
			case rec != nil:
				return "", nil // vars may come with the run
			}
			return nil, st.fail(rat.Errorf(rat.EINVALID, "var('%s') is not set: add it under vars: in workspace.yaml or the pipeline's YAML, or give a default: var('%s', 'value')", name, name))
		},
		"env_var": func(args *exec.VarArgs) (any, error) {
			name, def, hasDef, err := argWithDefault("env_var", args, "env_var('NAME') or env_var('NAME', 'default')")
			if err != nil {
				return nil, st.fail(err)
			}
			if envLookup != nil {
				if v, ok := envLookup(name); ok {
					return v, nil
				}
			}
			switch {
			case hasDef:
				return def, nil
			case rec != nil:
				return "", nil // the environment of a run may differ
			}
			return nil, st.fail(rat.Errorf(rat.EINVALID, "env_var('%s'): %s is not set: set it in the environment, or give a default: env_var('%s', 'value')", name, name, name))
		},
	}
}

func (w *Workspace) landingFunc(fn string, rc RenderContext, st *renderState, rec *recorder) func(*exec.VarArgs) (string, error) {
	return func(args *exec.VarArgs) (string, error) {
		zone, err := stringArgs(fn, args, 1, 1, fn+"('zone')")
		if err != nil {
			return "", st.fail(err)
		}
		z := zone[0]
		switch {
		case rec != nil:
			rec.landings[z] = true
			return quoteTable(rat.TableID{Layer: "landing", Name: z}), nil
		case rc.Landing == nil:
			return "", st.fail(rat.Errorf(rat.EINVALID, "%s('%s'): landing zones are not available in this rendering", fn, z))
		}
		s, err := rc.Landing(z)
		if err != nil {
			return "", st.fail(fmt.Errorf("%s('%s'): %w", fn, z, err))
		}
		return s, nil
	}
}

// stringArgs checks that a template function got between lo and hi string
// arguments and no keyword arguments.
func stringArgs(fn string, args *exec.VarArgs, lo, hi int, usage string) ([]string, error) {
	if len(args.Args) < lo || len(args.Args) > hi || len(args.KwArgs) > 0 {
		return nil, rat.Errorf(rat.EINVALID, "%s() takes %s: write %s", fn, argCount(lo, hi), usage)
	}
	out := make([]string, len(args.Args))
	for i, a := range args.Args {
		if !a.IsString() || strings.TrimSpace(a.String()) == "" {
			return nil, rat.Errorf(rat.EINVALID, "%s(): argument %d must be a non-empty quoted name: write %s", fn, i+1, usage)
		}
		out[i] = strings.TrimSpace(a.String())
	}
	return out, nil
}

func argCount(lo, hi int) string {
	if lo == hi {
		if lo == 1 {
			return "one argument"
		}
		return fmt.Sprintf("%d arguments", lo)
	}
	return fmt.Sprintf("%d to %d arguments", lo, hi)
}

// argWithDefault reads (name) or (name, default) or (name, default=...).
func argWithDefault(fn string, args *exec.VarArgs, usage string) (name string, def any, hasDef bool, err error) {
	n := len(args.Args)
	kw, hasKw := args.KwArgs["default"]
	if n < 1 || n > 2 || len(args.KwArgs) > 1 || (len(args.KwArgs) == 1 && !hasKw) || (n == 2 && hasKw) {
		return "", nil, false, rat.Errorf(rat.EINVALID, "%s() takes a name and an optional default: write %s", fn, usage)
	}
	if !args.Args[0].IsString() || args.Args[0].String() == "" {
		return "", nil, false, rat.Errorf(rat.EINVALID, "%s(): the name must be a quoted string: write %s", fn, usage)
	}
	switch {
	case n == 2:
		return args.Args[0].String(), args.Args[1].Interface(), true, nil
	case hasKw:
		return args.Args[0].String(), kw.Interface(), true, nil
	}
	return args.Args[0].String(), nil, false, nil
}

// discover renders src in both incremental modes with recording functions:
// a ref inside {% if is_incremental() %} counts.
func (w *Workspace) discover(p *Pipeline, file, src string, offset int) (*recorder, error) {
	rec := &recorder{refs: map[rat.TableID]bool{}, landings: map[string]bool{}}
	for _, incremental := range []bool{false, true} {
		rc := RenderContext{This: quoteTable(p.ID), Incremental: incremental, RunStartedAt: time.Unix(0, 0)}
		if _, err := w.execute(p, file, src, offset, rc, rec); err != nil {
			return nil, err
		}
	}
	return rec, nil
}

// refLines finds the first line of src that refs each table, for messages
// about edges (cycles) rather than about one call.
func (w *Workspace) refLines(src string, offset int) map[rat.TableID]int {
	out := map[rat.TableID]int{}
	for i, line := range splitLines(src) {
		for _, m := range refCallRE.FindAllStringSubmatch(line, -1) {
			name := m[1]
			if m[2] != "" {
				name += "." + m[2]
			}
			if id, err := w.resolveRef(name); err == nil {
				if _, seen := out[id]; !seen {
					out[id] = i + 1 + offset
				}
			}
		}
	}
	return out
}
