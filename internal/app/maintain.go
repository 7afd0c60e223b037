package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/orchestrator"
	"github.com/ratdata/rat/internal/textout"
	"github.com/ratdata/rat/internal/trigger"
)

// A maintenance task is one lake operation that keeps tables in shape,
// run over every table with the defaults workspace.yaml sets
// (maintenance.<task>). Bare 'rat maintain' runs every task once, in
// config.MaintenanceTasks order; rat serve runs a task on its schedule
// (maintenance.<task>.schedule) as a queued maintenance run
// (orchestrator.Runs.Maintain).

// maintainFunc runs a task once: dryRun reports what it would do and
// changes nothing. The summary is one line; the result is the lake's.
type maintainFunc func(a *App, ctx context.Context, dryRun bool) (rat.MaintenanceRun, error)

// maintenanceTasks are the tasks this build has, by name. Each task adds
// one line here and one function below.
var maintenanceTasks = map[string]maintainFunc{
	"retention": (*App).maintainRetention,
	"expire":    (*App).maintainExpire,
	"orphans":   (*App).maintainOrphans,
	"optimize":  (*App).maintainOptimize,
}

// MaintenanceTasks are the tasks bare 'rat maintain' runs, in order.
func MaintenanceTasks() []string {
	var out []string
	for _, t := range config.MaintenanceTasks {
		if maintenanceTasks[t] != nil {
			out = append(out, t)
		}
	}
	return out
}

// Maintain runs one maintenance task once with the configured defaults.
func (a *App) Maintain(ctx context.Context, task string, dryRun bool) (rat.MaintenanceRun, error) {
	run := maintenanceTasks[task]
	if run == nil {
		return rat.MaintenanceRun{Task: task}, rat.Errorf(rat.EINVALID, "no maintenance task %s: the tasks are %v", task, MaintenanceTasks())
	}
	did, err := run(a, ctx, dryRun)
	did.Task = task
	return did, err
}

// maxMaintenanceResult caps the task result a run record keeps (a dry
// run of expire may list thousands of files); a larger one keeps only
// its summary.
const maxMaintenanceResult = 64 << 10

// maintenanceResult is a task's report: its summary line and its result
// as JSON, when that is small enough for a run record.
func maintenanceResult(summary string, result any, err error) (rat.MaintenanceRun, error) {
	if err != nil {
		return rat.MaintenanceRun{}, err // what it did is unknown: no summary
	}
	did := rat.MaintenanceRun{Summary: summary}
	if b, jerr := json.Marshal(result); jerr == nil && len(b) <= maxMaintenanceResult {
		did.Result = b
	}
	return did, nil
}

// ExpireOptions are snapshot expiry's options as workspace.yaml sets them
// (maintenance.expire), defaults where it does not.
func (a *App) ExpireOptions(dryRun bool) lake.ExpireOptions {
	return lake.ExpireOptions{OlderThan: a.Config.ExpireOlderThan, RetainLast: a.Config.ExpireRetainLast, DryRun: dryRun}
}

func (a *App) maintainExpire(ctx context.Context, dryRun bool) (rat.MaintenanceRun, error) {
	res, err := a.Lake.Expire(ctx, a.ExpireOptions(dryRun))
	return maintenanceResult(ExpireSummary(res, dryRun), res, err)
}

// RetentionOptions are retention's options as the workspace sets them:
// the policies of its layers and pipelines, on the configured branch.
func (a *App) RetentionOptions(ctx context.Context, dryRun bool) (lake.RetentionOptions, error) {
	ws, err := a.LoadWorkspace(ctx)
	if err != nil {
		return lake.RetentionOptions{}, err
	}
	return lake.RetentionOptions{Policies: RetentionPolicies(ws), Branch: a.Config.Branch, DryRun: dryRun}, nil
}

// maintainRetention deletes the rows older than their table's retention
// (layers.<layer>.retention_days, a pipeline's retention_days) on the
// configured branch.
func (a *App) maintainRetention(ctx context.Context, dryRun bool) (rat.MaintenanceRun, error) {
	opts, err := a.RetentionOptions(ctx, dryRun)
	if err != nil {
		return rat.MaintenanceRun{}, err
	}
	res, err := a.Lake.Retention(ctx, opts)
	return maintenanceResult(RetentionSummary(res, dryRun), res, err)
}

// RetentionSummary says in one line what retention did (or, dry, would do).
func RetentionSummary(res lake.RetentionResult, dryRun bool) string {
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	if res.Checked == 0 {
		return "no table has a retention (layers.<layer>.retention_days, a pipeline's retention_days)"
	}
	return fmt.Sprintf("%s %s from %s on branch %s (%s checked, %s)", verb, textout.Plural(res.Rows, "row"),
		textout.Plural(int64(len(res.Tables)), "table"), res.Branch, textout.Plural(int64(res.Checked), "table"), textout.Bytes(res.Bytes))
}

// OrphanOptions are orphan cleanup's options as the configuration sets
// them: the grace period maintenance.orphans.older_than (checked against
// runs.lease), the run history and runs.retention_days.
func (a *App) OrphanOptions(dryRun bool) (lake.OrphanOptions, error) {
	if err := config.CheckOrphanGrace(a.Config.OrphansOlderThan, a.Config.RunLease); err != nil {
		return lake.OrphanOptions{}, rat.Errorf(rat.EINVALID, "maintenance.orphans.older_than: %v", err)
	}
	return lake.OrphanOptions{OlderThan: a.Config.OrphansOlderThan, DryRun: dryRun, Runs: a.Store,
		RunRetention: time.Duration(a.Config.RunRetentionDays) * 24 * time.Hour}, nil
}

// maintainOrphans deletes what abandoned runs left, past the grace period.
func (a *App) maintainOrphans(ctx context.Context, dryRun bool) (rat.MaintenanceRun, error) {
	opts, err := a.OrphanOptions(dryRun)
	if err != nil {
		return rat.MaintenanceRun{}, err
	}
	res, err := a.CleanOrphans(ctx, &opts, nil, slog.Default())
	return maintenanceResult(OrphanSummary(res, dryRun), res, err)
}

// CleanOrphans first ends the runs whose process died (reported to w or
// log), so that their branches are judged, then runs orphan cleanup as of
// now (opts.Now is set to it).
func (a *App) CleanOrphans(ctx context.Context, opts *lake.OrphanOptions, w io.Writer, log *slog.Logger) (lake.OrphanResult, error) {
	a.ReapRuns(ctx, w, log)
	opts.Now = time.Now()
	return a.Lake.Orphans(ctx, *opts)
}

// OrphanSummary says in one line what orphan cleanup did (or, dry, would do).
func OrphanSummary(res lake.OrphanResult, dryRun bool) string {
	del := "deleted"
	if dryRun {
		del = "would delete"
	}
	out := fmt.Sprintf("%s %s and %s (%s)", del, textout.Plural(int64(len(res.Branches)), "branch"),
		textout.Plural(int64(len(res.Files)), "file"), textout.Bytes(res.Bytes))
	if res.Young > 0 {
		out += fmt.Sprintf("; kept %s within the grace period", textout.Plural(int64(res.Young), "unreferenced file"))
	}
	if res.RunsPruned > 0 {
		out += fmt.Sprintf("; pruned %s", textout.Plural(res.RunsPruned, "run record"))
	}
	return out
}

// maintainOptimize compacts the tables of the configured branch whose
// partitions hold at least maintenance.optimize.min_small_files small
// files.
func (a *App) maintainOptimize(ctx context.Context, dryRun bool) (rat.MaintenanceRun, error) {
	opts, err := a.OptimizeOptions(ctx)
	if err != nil {
		return rat.MaintenanceRun{}, err
	}
	opts.Branch, opts.DryRun = a.Config.Branch, dryRun
	res, err := a.Lake.Optimize(ctx, opts)
	return maintenanceResult(OptimizeSummary(res, dryRun), res, err)
}

// OptimizeSummary says in one line what compaction did (or, dry, would do).
func OptimizeSummary(res lake.OptimizeResult, dryRun bool) string {
	verb := "compacted"
	if dryRun {
		verb = "would compact"
	}
	var tables, read, written int
	var bytes int64
	for _, t := range res.Tables {
		if t.Rewritten > 0 {
			tables++
			read += t.Rewritten
			written += t.Written
			bytes += t.BytesRead
		}
	}
	return fmt.Sprintf("%s %s on branch %s: %s (%s) into %s", verb, textout.Plural(int64(tables), "table"), res.Branch,
		textout.Plural(int64(read), "small file"), textout.Bytes(bytes), textout.Plural(int64(written), "file"))
}

// ExpireSummary says in one line what expiry did (or, dry, would do).
func ExpireSummary(res lake.ExpireResult, dryRun bool) string {
	verb, del := "expired", "deleted"
	if dryRun {
		verb, del = "would expire", "would delete"
	}
	snaps := 0
	for _, t := range res.Tables {
		snaps += len(t.Snapshots)
	}
	return fmt.Sprintf("%s %s of %s, %s %s (%s)", verb, textout.Plural(int64(snaps), "snapshot"),
		textout.Plural(int64(len(res.Tables)), "table"), del, textout.Plural(int64(len(res.Files)), "file"), textout.Bytes(res.Bytes))
}

// maintenanceSchedules parses the maintenance tasks' schedules with the
// scheduler's cron parser: a bad one, or one for a task this build has
// not, is refused naming the file, line and key.
func maintenanceSchedules(cfg *config.Config) ([]orchestrator.MaintenanceSchedule, error) {
	var out []orchestrator.MaintenanceSchedule
	for _, m := range cfg.MaintenanceSchedules {
		if maintenanceTasks[m.Task] == nil {
			return nil, rat.Errorf(rat.EINVALID, "%s: this rat has no maintenance task %s (it has %v): remove the key", m.Where, m.Task, MaintenanceTasks())
		}
		s, err := trigger.ParseSchedule(map[string]any{"cron": m.Cron}, m.Where)
		if err != nil {
			return nil, err
		}
		out = append(out, orchestrator.MaintenanceSchedule{Task: m.Task, Schedule: s})
	}
	return out, nil
}
