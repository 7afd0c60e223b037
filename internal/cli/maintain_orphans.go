package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newMaintainOrphansCmd(g *globals) *cobra.Command {
	var (
		dryRun    bool
		olderThan string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "orphans [TABLE...]",
		Short: "Delete abandoned run branches and the warehouse files nothing references",
		Long: `Failed, cancelled and killed runs leave files in the warehouse that no
table references, and keep their run branches for inspection. This deletes,
once they are older than the grace period (--older-than, else
maintenance.orphans.older_than, default 3d):

  - run/<id> branches whose run ended (failed, cancelled, owner lost) or
    has no record, and ingest/<id> branches a killed 'rat ingest' left.
    A branch of a queued or running run is never touched. Their files
    become orphans in the same pass.
  - files under the warehouse (all tables, or the TABLEs named) that no
    table or view references at the head of any branch or tag (any of
    its snapshots) or at any commit reachable from one. Only files of
    rat's layout are looked at: <layer>/<name>/data/*.parquet,
    metadata/*.avro and *.metadata.json, views/*.view.json.
  - run records (with their logs) older than runs.retention_days (default
    90, 0 keeps them; each target's newest success stays), as rat serve
    does every hour; this is how they go when no rat serve runs.

It is safe while writers run: a file modified within the grace period is
kept, and so is every file written since the oldest queued or running run
began, however long that run takes. A single write (rat load, a pipeline's
table) taking more than half of maintenance.orphans.older_than is refused
before its commit, so no writer commits a file this could have deleted.
The grace period may not be shorter than runs.lease, nor --older-than
shorter than maintenance.orphans.older_than (it bounds the writers). If any
metadata cannot be read, nothing is deleted.

--dry-run lists the branches and files (key, bytes, age) that would go, and
the totals, and changes nothing.`,
		Example: `  rat maintain orphans --dry-run
  rat maintain orphans
  rat maintain orphans --older-than 7d bronze.sales
  rat maintain orphans --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			tables, err := tableArgs(args)
			if err != nil {
				return err
			}
			var flagAge time.Duration
			if olderThan != "" {
				if flagAge, err = config.ParseAge(olderThan); err != nil {
					return &usageError{msg: "--older-than: " + err.Error() + " (see 'rat maintain orphans --help')"}
				}
			}
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				opts, err := a.OrphanOptions(dryRun)
				if err != nil {
					return err
				}
				if olderThan != "" {
					if flagAge < opts.OlderThan {
						return &usageError{msg: fmt.Sprintf("--older-than %s is shorter than maintenance.orphans.older_than (%s): writes may take up to half of that before they commit; lower the key in workspace.yaml instead",
							config.FormatAge(flagAge), config.FormatAge(opts.OlderThan))}
					}
					opts.OlderThan = flagAge
				}
				opts.Tables = tables
				res, err := a.CleanOrphans(ctx, &opts, cmd.ErrOrStderr(), nil)
				if err != nil {
					return err
				}
				if asJSON {
					return textout.JSON(cmd.OutOrStdout(), res)
				}
				printOrphans(cmd, opts, res, a.Config.RunRetentionDays)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would go and change nothing")
	cmd.Flags().StringVar(&olderThan, "older-than", "", "the grace period, e.g. 3d, 36h: keep files and run branches younger than this (default: maintenance.orphans.older_than, else 3d; never shorter)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printOrphans(cmd *cobra.Command, opts lake.OrphanOptions, res lake.OrphanResult, retentionDays int) {
	w := cmd.OutOrStdout()
	del := "deleted"
	if opts.DryRun {
		del = "would delete"
	}
	fmt.Fprintf(w, "grace period %s: keeping files modified and run branches ended since %s\n",
		config.FormatAge(opts.OlderThan), opts.Now.Add(-opts.OlderThan).UTC().Format(time.RFC3339))
	if !res.ActiveSince.IsZero() {
		fmt.Fprintf(w, "a run is queued or running since %s: files written since are kept\n", res.ActiveSince.UTC().Format(time.RFC3339))
	}
	if len(res.Branches) > 0 {
		rows := make([][]string, len(res.Branches))
		for i, b := range res.Branches {
			rows[i] = []string{b.Name, b.Reason, b.Since.UTC().Format(time.RFC3339)}
		}
		textout.Table(w, []string{"BRANCH", "ABANDONED", "SINCE"}, rows)
	}
	if opts.DryRun && len(res.Files) > 0 {
		rows := make([][]string, len(res.Files))
		for i, f := range res.Files {
			rows[i] = []string{f.Key, textout.Bytes(f.Bytes), ageText(time.Duration(f.AgeSec) * time.Second)}
		}
		textout.Table(w, []string{"FILE", "BYTES", "AGE"}, rows)
	}
	fmt.Fprintf(w, "%s %s and %s, %s\n", del, textout.Plural(int64(len(res.Branches)), "branch"),
		textout.Plural(int64(len(res.Files)), "file"), textout.Bytes(res.Bytes))
	if res.Young > 0 {
		fmt.Fprintf(w, "kept %s (%s) nothing references yet: within the grace period or written since the oldest active run began\n",
			textout.Plural(int64(res.Young), "file"), textout.Bytes(res.YoungBytes))
	}
	switch {
	case retentionDays <= 0:
		fmt.Fprintln(w, "run records are kept forever (runs.retention_days: 0)")
	case opts.DryRun:
		fmt.Fprintf(w, "run records older than %d days would be pruned with their logs\n", retentionDays)
	default:
		fmt.Fprintf(w, "pruned %s older than %d days, with their logs\n", textout.Plural(res.RunsPruned, "run record"), retentionDays)
	}
}

// ageText writes a file's age roughly: 4d, 5h, 12m, 30s.
func ageText(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= 2*time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
