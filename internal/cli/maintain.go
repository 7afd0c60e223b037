package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newMaintainCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintain",
		Short: "Keep tables in shape: expire old snapshots and delete the files nothing needs",
		Long: `A lakehouse that only grows cannot run for a year: every write adds a
snapshot and files, and old snapshots keep every file they ever read alive.
rat maintain runs the maintenance tasks; each has --dry-run to show what it
would do first.

Tasks:
  expire   remove old snapshots (time travel past them ends) and delete
           the files no remaining snapshot of any branch or tag needs
  orphans  delete abandoned run branches, the warehouse files nothing
           references (failed and killed runs leave them), and old run
           records with their logs`,
		Example: `  rat maintain expire --dry-run
  rat maintain expire --older-than 30d --retain-last 20
  rat maintain orphans --dry-run`,
	}
	cmd.AddCommand(newMaintainExpireCmd(g), newMaintainOrphansCmd(g))
	return cmd
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
				if olderThan == "" {
					opts.OlderThan = a.Config.ExpireOlderThan
				}
				opts.RetainLast = a.Config.ExpireRetainLast
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
