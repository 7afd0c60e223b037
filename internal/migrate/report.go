package migrate

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/textout"
)

// Write prints the report with the new setup's environment: as JSON (the
// report and an "env" object of settings), or for people (Print, then the
// environment lines env).
func Write(w io.Writer, rep *Report, settings [][2]string, env string, asJSON bool) error {
	if asJSON {
		out := struct {
			*Report
			Env map[string]string `json:"env"`
		}{rep, map[string]string{}}
		for _, s := range settings {
			out.Env[s[0]] = s[1]
		}
		return textout.JSON(w, out)
	}
	Print(w, rep)
	_, err := fmt.Fprintf(w, "\nthe new setup:\n%s", env)
	return err
}

// Print writes the report for people: what was (or would be) copied, and
// the verification, one line per ref and one per difference.
func Print(w io.Writer, rep *Report) {
	verb := "copied"
	if rep.DryRun {
		verb = "to copy"
	}
	if f := rep.Files; f != nil {
		if rep.DryRun {
			fmt.Fprintf(w, "files    %s (%s) to copy", textout.Plural(f.Files, "file"), textout.Bytes(f.Bytes))
			if f.Resumed {
				fmt.Fprint(w, "; the target holds a partial copy: files already there are skipped")
			}
			fmt.Fprintln(w)
		} else {
			fmt.Fprintf(w, "files    %s (%s) %s, %d already at the target (%s), in %s (%s/s)\n",
				textout.Plural(f.Copied, "file"), textout.Bytes(f.CopiedBytes), verb, f.Skipped, textout.Bytes(f.SkippedBytes),
				seconds(f.Seconds), textout.Bytes(rate(f.CopiedBytes+f.SkippedBytes, f.Seconds)))
		}
	}
	printLanding(w, rep)
	if c := rep.Catalog; c != nil {
		fmt.Fprintf(w, "catalog  %s, %s in all, %s", textout.Plural(c.Commits, "commit"), textout.Plural(c.Rows, "row"), verb)
		if !rep.DryRun {
			fmt.Fprintf(w, " in %s", seconds(c.Seconds))
		}
		fmt.Fprintln(w)
		if c.Locks > 0 {
			fmt.Fprintf(w, "warning  %s held at the source: runs in flight; let them finish (or stop rat serve and workers) before the final pass\n",
				textout.Plural(c.Locks, "pipeline lock"))
		}
	}
	if rep.DryRun {
		fmt.Fprintf(w, "estimate about %s (loopback MinIO speed; a remote target is slower)\n", seconds(rep.EstimateSeconds))
		return
	}
	rows := make([][]string, 0, len(rep.Refs))
	var problems []string
	for _, r := range rep.Refs {
		result := "ok"
		n := 0
		for _, t := range r.Tables {
			if t.Problem != "" {
				n++
				problems = append(problems, fmt.Sprintf("  %s %s: %s", r.Ref, t.Table, t.Problem))
			}
		}
		if n > 0 {
			result = fmt.Sprintf("MISMATCH (%d)", n)
		}
		var tables, rowCount int64
		for _, t := range r.Tables {
			if t.Table != "*" {
				tables++
				rowCount += t.Rows
			}
		}
		rows = append(rows, []string{r.Ref, r.Kind, rat.ShortID(r.Head), fmt.Sprint(tables), fmt.Sprint(rowCount), result})
	}
	fmt.Fprintln(w)
	switch rep.Verify {
	case VerifyFast:
		fmt.Fprintln(w, "verified: snapshot ids, schemas and row counts from Iceberg metadata, content by the copied files' SHA-256 (--verify deep reads every row)")
	case VerifyDeep:
		fmt.Fprintln(w, "verified: snapshot ids, schemas and row counts from Iceberg metadata, content by the copied files' SHA-256, and every row read on both sides")
	}
	textout.Table(w, []string{"REF", "KIND", "HEAD", "TABLES", "ROWS", "VERIFIED"}, rows)
	for _, p := range problems {
		fmt.Fprintln(w, p)
	}
	for _, p := range rep.CatalogProblems {
		fmt.Fprintln(w, "  "+p)
	}
	if rep.Catalog != nil && len(rep.CatalogProblems) == 0 {
		fmt.Fprintf(w, "catalog tables: %d identical (rows and checksums)\n", len(rep.Catalog.Tables))
	}
}

// Terminal returns a progress printer for a terminal: one line rewritten
// in place per phase (files, bytes, rate and ETA for the files), ended
// when the phase finishes.
func Terminal(w io.Writer) func(Progress) {
	last := time.Time{}
	return func(p Progress) {
		if !p.Finished && time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		var line string
		switch p.Phase {
		case "files":
			r := rate(p.Bytes, p.Elapsed.Seconds())
			eta := "?"
			if r > 0 {
				eta = (time.Duration(float64(p.TotalBytes-p.Bytes)/float64(r)) * time.Second).Round(time.Second).String()
			}
			line = fmt.Sprintf("files %d/%d  %s/%s  %s/s  ETA %s", p.Done, p.Total,
				textout.Bytes(p.Bytes), textout.Bytes(p.TotalBytes), textout.Bytes(r), eta)
		default:
			line = fmt.Sprintf("%s %d/%d", p.Phase, p.Done, p.Total)
		}
		end := ""
		if p.Finished {
			end = "\n"
		}
		fmt.Fprintf(w, "\r%-72s%s", line, end)
	}
}

// rate is bytes per second (0 before any time passed).
func rate(bytes int64, secs float64) int64 {
	if secs <= 0 {
		return 0
	}
	return int64(float64(bytes) / secs)
}

func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	if d < 10*time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// Shell quotes a value for an environment file when it needs it.
func shellQuote(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n'\"\\$`#&;|<>()*?[]{}!~") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// EnvLines renders settings as NAME=value lines (shell-quoted) for an
// environment file, then comments.
func EnvLines(settings [][2]string, comments []string) string {
	var b strings.Builder
	for _, c := range comments {
		fmt.Fprintf(&b, "# %s\n", c)
	}
	for _, s := range settings {
		fmt.Fprintf(&b, "%s=%s\n", s[0], shellQuote(s[1]))
	}
	return b.String()
}
