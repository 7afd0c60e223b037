package cli

import (
	"context"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
	"github.com/ratdata/rat/internal/textout"
	"github.com/spf13/cobra"
)

func newLogCmd(g *globals) *cobra.Command {
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "log [REF]",
		Short: "Show the commit history of a branch, tag or commit",
		Example: `  rat log
  rat log dev -n 5
  rat log --json -n 1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{msg: "rat log: want at most one branch, tag or commit (see 'rat log --help')"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withApp(cmd, "", func(ctx context.Context, a *app) error {
				ref := a.Config.Branch
				if len(args) == 1 {
					ref = args[0]
				}
				head, err := catalog.ResolveRef(ctx, a.Store, ref)
				if err != nil {
					return err
				}
				commits, err := a.Store.Log(ctx, head, limit)
				if err != nil {
					return err
				}
				if asJSON {
					return textout.JSON(cmd.OutOrStdout(), logEntries(commits))
				}
				rows := make([][]string, len(commits))
				for i, c := range commits {
					tables := make([]string, len(c.Changes))
					for j, ch := range c.Changes {
						tables[j] = ch.Table.String()
						if ch.Metadata == "" {
							tables[j] += " (dropped)"
						}
					}
					msg := c.Message
					if len(c.Parents) > 1 {
						msg = "⑂ " + msg
					}
					rows[i] = []string{rat.ShortID(c.ID), c.Time.Format("2006-01-02 15:04:05"), c.Author, msg, strings.Join(tables, ", ")}
				}
				textout.Table(cmd.OutOrStdout(), []string{"COMMIT", "TIME (UTC)", "AUTHOR", "MESSAGE", "TABLES"}, rows)
				return nil
			})
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "show at most this many commits (0 = all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// logChange is a table a commit changed, as rat log --json prints it.
type logChange struct {
	Table    string `json:"table"`
	Metadata string `json:"metadata,omitempty"`
}

// logEntry is a commit as rat log --json prints it.
type logEntry struct {
	ID      string      `json:"id"`
	Parents []string    `json:"parents"`
	Author  string      `json:"author"`
	Message string      `json:"message"`
	Time    string      `json:"time"`
	Changes []logChange `json:"changes"`
}

// logEntries are commits as rat log --json prints them.
func logEntries(commits []rat.Commit) []logEntry {
	out := make([]logEntry, len(commits))
	for i, c := range commits {
		e := logEntry{ID: c.ID, Parents: c.Parents, Author: c.Author, Message: c.Message, Time: c.Time.Format("2006-01-02T15:04:05.000000Z07:00"), Changes: []logChange{}}
		if e.Parents == nil {
			e.Parents = []string{}
		}
		for _, ch := range c.Changes {
			e.Changes = append(e.Changes, logChange{ch.Table.String(), ch.Metadata})
		}
		out[i] = e
	}
	return out
}
