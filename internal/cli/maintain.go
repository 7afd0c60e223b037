package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ratdata/rat"
	ratapp "github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newMaintainCmd(g *globals) *cobra.Command {
	var (
		dryRun bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "maintain",
		Short: "Keep tables in shape: delete old rows, expire snapshots, clean up orphans, compact small files",
		Long: `A lakehouse that only grows cannot run for a year: every write adds a
snapshot and files, and old snapshots keep every file they ever read alive.
rat maintain runs the maintenance tasks; each has --dry-run to show what it
would do first.

Bare 'rat maintain' runs every task once, in this order, with the settings
of workspace.yaml's maintenance: section, and prints one line per task. A
task that fails is reported and the others still run; the exit status is
then that of the first failure.

Tasks:
  retention  delete the rows older than each table's retention_days, as a
             commit (time travel before it still works until expiry)
  expire     remove old snapshots (time travel past them ends) and delete
             the files no remaining snapshot of any branch or tag needs
  orphans    delete abandoned run branches, the warehouse files nothing
             references (failed and killed runs leave them), and old run
             records with their logs
  optimize   compact small data files into files of target_file_size_mb
             (the same as 'rat optimize' on the configured branch)

rat serve runs a task on a schedule when workspace.yaml sets
maintenance.<task>.schedule (cron, e.g. "0 3 * * *" or daily): each tick
enqueues a maintenance run that a worker executes, listed by 'rat runs'
with trigger maintenance. Runs of one task never overlap: a tick while the
task's last run has not ended is skipped. docs/maintenance.md is the guide.`,
		Example: `  rat maintain --dry-run
  rat maintain
  rat maintain expire --dry-run
  rat maintain expire --older-than 30d --retain-last 20
  rat maintain retention --dry-run
  rat maintain orphans --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				return maintainAll(ctx, cmd, a, dryRun, asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what each task would do and change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: one object per task with its summary, result and error")
	cmd.AddCommand(newMaintainExpireCmd(g), newMaintainRetentionCmd(g), newMaintainOrphansCmd(g))
	return cmd
}

// maintainedTask is one task's report in 'rat maintain --json'.
type maintainedTask struct {
	Task    string          `json:"task"`
	Summary string          `json:"summary,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// maintainAll runs every maintenance task once, each whatever the others
// did, and fails with the first failure when any failed.
func maintainAll(ctx context.Context, cmd *cobra.Command, a *app, dryRun, asJSON bool) error {
	w := cmd.OutOrStdout()
	var out []maintainedTask
	var failed []string
	var first error
	for _, task := range ratapp.MaintenanceTasks() {
		did, err := a.Maintain(ctx, task, dryRun)
		r := maintainedTask{Task: task, Summary: did.Summary, Result: did.Result}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.Error = rat.ErrorMessage(err)
			failed = append(failed, task)
			first = cmp.Or(first, err)
		}
		out = append(out, r)
		switch {
		case asJSON:
		case err != nil:
			fmt.Fprintf(w, "%-10s failed: %s\n", task, r.Error)
		default:
			fmt.Fprintf(w, "%-10s %s\n", task, did.Summary)
		}
	}
	if asJSON {
		if err := textout.JSON(w, out); err != nil {
			return err
		}
	}
	if first != nil {
		return rat.Errorf(rat.ErrorCode(first), "maintenance: %d of %d tasks failed (%s); %s: %s",
			len(failed), len(out), strings.Join(failed, ", "), failed[0], rat.ErrorMessage(first))
	}
	return nil
}

func newMaintainExpireCmd(g *globals) *cobra.Command {
	var (
		dryRun     bool
		olderThan  string
		retainLast int
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "expire [TABLE...]",
		Short: "Remove old snapshots and delete the files nothing references any more",
		Long: `Removes old snapshots from the tables of every branch (all tables, or the
TABLEs named) and deletes the files that no remaining snapshot references.

A snapshot of a table on a branch is kept when it is
  - younger than --older-than (maintenance.expire.older_than, default 7d),
  - among the last --retain-last of the table's history on that branch
    (maintenance.expire.retain_last, default 10),
  - the current state of the table at the head of any branch or tag, or at
    any commit made within --older-than (so time travel over that window
    keeps working).
rat's own branches (run/..., ingest/...) are never rewritten: a run may be
writing there, and everything they hold is kept.

Each branch's expiry is one commit (see 'rat log'). Then the files that
only expired snapshots and commits older than --older-than referenced are
deleted: data files, manifests, manifest lists, old metadata files. A file
any branch, tag or kept commit still needs is never deleted. Time travel
(--at) to an expired snapshot ends with a message naming the snapshot.

--dry-run lists the snapshots and files that would go, and their size, and
changes nothing.`,
		Example: `  rat maintain expire --dry-run
  rat maintain expire
  rat maintain expire --older-than 30d --retain-last 20 bronze.sales
  rat maintain expire --older-than 0d --retain-last 1   # keep only what refs need`,
		RunE: func(cmd *cobra.Command, args []string) error {
			tables, err := tableArgs(args)
			if err != nil {
				return err
			}
			opts := lake.ExpireOptions{DryRun: dryRun, Tables: tables}
			if cmd.Flags().Changed("retain-last") && retainLast < 0 {
				return &usageError{msg: fmt.Sprintf("--retain-last %d: want 0 or more snapshots (see 'rat maintain expire --help')", retainLast)}
			}
			if olderThan != "" {
				d, err := config.ParseAge(olderThan)
				if err != nil {
					return &usageError{msg: "--older-than: " + err.Error() + " (see 'rat maintain expire --help')"}
				}
				opts.OlderThan = d
			}
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				defaults := a.ExpireOptions(dryRun)
				if olderThan == "" {
					opts.OlderThan = defaults.OlderThan
				}
				opts.RetainLast = defaults.RetainLast
				if cmd.Flags().Changed("retain-last") {
					opts.RetainLast = retainLast
				}
				res, err := a.Lake.Expire(ctx, opts)
				if err != nil {
					return err
				}
				if asJSON {
					return textout.JSON(cmd.OutOrStdout(), res)
				}
				printExpiry(cmd, opts, res)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would go and change nothing")
	cmd.Flags().StringVar(&olderThan, "older-than", "", "keep snapshots younger than this, e.g. 7d, 36h (default: maintenance.expire.older_than, else 7d)")
	cmd.Flags().IntVar(&retainLast, "retain-last", 0, "keep the last N snapshots of each table on each branch (default: maintenance.expire.retain_last, else 10)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// tableArgs parses the TABLE arguments of a maintenance task: nil for
// none (every table).
func tableArgs(args []string) ([]rat.TableID, error) {
	var out []rat.TableID
	for _, a := range args {
		id, err := rat.ParseTableID(a)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func printExpiry(cmd *cobra.Command, opts lake.ExpireOptions, res lake.ExpireResult) {
	w := cmd.OutOrStdout()
	verb, del := "expired", "deleted"
	if opts.DryRun {
		verb, del = "would expire", "would delete"
	}
	fmt.Fprintf(w, "keeping snapshots younger than %s and the last %d of each table on each branch\n", config.FormatAge(opts.OlderThan), opts.RetainLast)
	if len(res.Tables) == 0 {
		fmt.Fprintln(w, "no snapshot to expire")
	} else {
		rows := make([][]string, len(res.Tables))
		for i, t := range res.Tables {
			rows[i] = []string{t.Branch, t.Table.String(), fmt.Sprint(len(t.Snapshots)), fmt.Sprint(t.Kept)}
		}
		textout.Table(w, []string{"BRANCH", "TABLE", strings.ToUpper(verb), "KEPT"}, rows)
	}
	if len(res.Skipped) > 0 {
		fmt.Fprintf(w, "left alone (rat's own branches): %s\n", strings.Join(res.Skipped, ", "))
	}
	if opts.DryRun {
		for _, f := range res.Files {
			fmt.Fprintf(w, "  %s (%s)\n", f.Key, textout.Bytes(f.Bytes))
		}
	}
	fmt.Fprintf(w, "%s %s, %s\n", del, textout.Plural(int64(len(res.Files)), "file"), textout.Bytes(res.Bytes))
}
