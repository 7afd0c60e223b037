package monitor

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ratdata/rat/internal/textout"
)

// Render prints r on one screen: the processes, the queue and runs, and
// each warning with its advice.
func Render(w io.Writer, r *Report) {
	fmt.Fprintf(w, "rat status: %s (%s)\n\n", strings.ToUpper(r.Status), r.Generated.UTC().Format("2006-01-02 15:04:05 UTC"))
	if len(r.Processes) > 0 {
		rows := make([][]string, 0, len(r.Processes))
		for _, p := range r.Processes {
			res := p.Resources
			mem := "?"
			if res.MemoryLimitBytes > 0 {
				mem = fmt.Sprintf("%.0f %% of %s", 100*res.MemoryRatio(), textout.Bytes(res.MemoryLimitBytes))
			}
			// The fullest volume speaks for the process.
			disk, fullest := "-", -1.0
			for _, d := range res.Disks {
				if u := d.UsedRatio(); u > fullest {
					fullest, disk = u, fmt.Sprintf("%.0f %% %s", 100*u, d.Volume)
				}
			}
			latency := "-"
			if res.QueryP95Seconds > 0 {
				latency = round(res.QueryP95Seconds).String()
			}
			rows = append(rows, []string{p.Role, p.Host, p.Version, uptime(r.Generated.Sub(p.Started)), mem,
				fmt.Sprintf("%.0f %% of %g", 100*res.CPURatio, res.CPUs), disk, latency, p.Status})
		}
		textout.Table(w, []string{"ROLE", "HOST", "VERSION", "UPTIME", "MEMORY", "CPU", "DISK", "P95", "STATUS"}, rows)
		fmt.Fprintln(w)
	}
	queue := "queue: unknown"
	if q := r.Queue; q != nil {
		queue = fmt.Sprintf("queue: %d waiting", q.Waiting)
		if q.Waiting > 0 {
			queue += fmt.Sprintf(" (oldest %s)", round(q.OldestWaitSeconds))
		}
	}
	fmt.Fprintf(w, "%s; runs: %d running, %d failed in the last %.0fh; stale tables: %d\n", queue, r.Running, len(r.Failed), FailedWindow.Hours(), len(r.Stale))
	if len(r.Warnings) == 0 {
		fmt.Fprintln(w, "\nno warnings")
		return
	}
	fmt.Fprintln(w, "\nWARNINGS")
	for _, f := range r.Warnings {
		fmt.Fprintf(w, "  %-8s  %s\n            → %s\n", f.Status, f.Message, f.Advice)
	}
}

// uptime prints a process's age to the second, in days past a day.
func uptime(d time.Duration) string {
	d = d.Round(time.Second)
	if d >= 24*time.Hour {
		days := d / (24 * time.Hour)
		return fmt.Sprintf("%dd%s", days, (d - days*24*time.Hour).Round(time.Minute))
	}
	return d.String()
}
