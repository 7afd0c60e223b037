package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ratdata/rat/internal/client"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/textout"
	"github.com/ratdata/rat/internal/workspace"
	"github.com/spf13/cobra"
)

func newLandingCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "landing",
		Short: "Upload, list and remove the raw files of landing zones",
		Long: `The landing area is where raw files arrive before pipelines read them with
{{ landing('zone') }}: one zone per source (orders, customers). With a local
warehouse it is the landing/ directory of the workspace; with a warehouse on
S3 it is <warehouse>/_landing/, shared by every rat serve and rat worker.
These commands work the same on both, so scripts need not know where the
area lives. A pipeline with a landing trigger starts when a new file lands.`,
		Example: `  rat landing upload orders exports/orders-2024-05-01.csv
  rat landing list
  rat landing list orders --json
  rat landing rm orders orders-2024-05-01.csv`,
	}
	cmd.AddCommand(newLandingUploadCmd(g), newLandingListCmd(g), newLandingRmCmd(g))
	return cmd
}

func newLandingUploadCmd(g *globals) *cobra.Command {
	var server string
	cmd := &cobra.Command{
		Use:   "upload ZONE FILE...",
		Short: "Copy local files into a landing zone",
		Long: `Copy files into a landing zone, each under its own base name (a file of the
same name is replaced). Files stream to the landing area, so their size is
not bounded by memory, but each is capped at 1 GiB as the API's upload is;
each appears whole or not at all (on disk a temporary file renamed into
place, on S3 one object put), so a pipeline or a sensor never reads half a
file. Every file is checked (it exists, its name has a format rat reads, its
size) before the first is copied.

With --server URL the files go through a rat serve's API (POST
/api/v1/landing/ZONE, one streamed multipart request; RAT_API_TOKEN is sent
as the token, which needs the run role): no catalog or S3 keys needed here.`,
		Example: `  rat landing upload orders orders-2024-05-01.csv
  rat landing upload orders exports/*.csv
  RAT_API_TOKEN=… rat landing upload orders day.csv --server https://rat.example.com`,
		Args: minArgs(2, "a landing zone and one or more files"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			zone, paths := args[0], args[1:]
			if err := ingest.ValidateZone(zone); err != nil {
				return err
			}
			if err := ingest.CheckUploads(paths, ingest.MaxUploadBytes); err != nil {
				return err
			}
			if server != "" {
				return uploadRemote(ctx, cmd.OutOrStdout(), server, zone, paths)
			}
			a, landing, err := g.openLanding(ctx, nil)
			if err != nil {
				return err
			}
			defer a.Close()
			return uploadFiles(ctx, cmd.OutOrStdout(), landing, zone, paths, ingest.MaxUploadBytes)
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "upload through a rat serve (URL; RAT_API_TOKEN is sent as the token) instead of to the landing area directly")
	return cmd
}

// uploadRemote uploads files through a rat serve's API, one line each.
func uploadRemote(ctx context.Context, out io.Writer, server, zone string, paths []string) error {
	c, err := client.New(server)
	if err != nil {
		return err
	}
	files, err := c.UploadLanding(ctx, zone, paths)
	if err != nil {
		return errRemote(server, err)
	}
	for _, f := range files {
		fmt.Fprintf(out, "uploaded %s (%s) to %s/%s through %s\n", f.Name, textout.Bytes(f.Size), zone, f.Name, server)
	}
	return nil
}

// openLanding opens the app and its landing area.
func (g *globals) openLanding(ctx context.Context, flags map[string]string) (*app, *ingest.Landing, error) {
	a, err := g.open(ctx, flags)
	if err != nil {
		return nil, nil, err
	}
	landing, err := a.Landing(ctx)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, landing, nil
}

// uploadFiles streams local files into a landing zone, one line each.
func uploadFiles(ctx context.Context, out io.Writer, landing *ingest.Landing, zone string, paths []string, limit int64) error {
	return landing.UploadFiles(ctx, zone, paths, limit, func(p, name string, n int64) {
		fmt.Fprintf(out, "uploaded %s (%s) to %s%s\n", p, textout.Bytes(n), landing.Dir(zone), name)
	})
}

func newLandingListCmd(g *globals) *cobra.Command {
	var branch, server string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [ZONE]",
		Short: "List the landing zones and their files, consumed or waiting",
		Long: `List the landing zones (those the workspace's pipelines read and those that
hold files) with each file's size, time and status on the branch: consumed
(every pipeline reading the zone has read it, per the file registry
_rat.landing_files), waiting (one has not yet) or unread (no pipeline reads
the zone).`,
		Example: `  rat landing list
  rat landing list orders
  rat landing list --json
  rat landing list --server https://rat.example.com`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{msg: "rat landing list: want at most one landing zone (see 'rat landing list --help')"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			zone := ""
			if len(args) == 1 {
				zone = args[0]
				if err := ingest.ValidateZone(zone); err != nil {
					return err
				}
			}
			if server != "" && branch != "" {
				return &usageError{msg: "rat landing list: --branch and --server do not go together (the server lists its own branch)"}
			}
			zones, where, err := g.landingZones(ctx, server, branch, zone)
			if err != nil {
				return err
			}
			if asJSON {
				return textout.JSON(cmd.OutOrStdout(), nonNilZones(zones))
			}
			printLandingZones(cmd.OutOrStdout(), zones, where)
			return nil
		},
	}
	cmd.Flags().StringVarP(&branch, "branch", "b", "", "the branch whose file registry says what was consumed (default: the configured branch, main)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&server, "server", "", "ask a rat serve (URL; RAT_API_TOKEN is sent as the token) instead of reading the landing area and catalog here")
	return cmd
}

// landingZones reads the landing zones (one, or all for zone "") with
// their files' status on branch, from a rat serve or here, and says where
// they are.
func (g *globals) landingZones(ctx context.Context, server, branch, zone string) ([]pipeline.LandingZone, string, error) {
	if server != "" {
		c, err := client.New(server)
		if err != nil {
			return nil, "", err
		}
		var res struct{ Zones []pipeline.LandingZone }
		if err := c.Do(ctx, "GET", "/api/v1/landing", nil, &res); err != nil {
			return nil, "", errRemote(server, err)
		}
		var zones []pipeline.LandingZone
		for _, z := range res.Zones {
			if zone == "" || z.Zone == zone {
				zones = append(zones, z)
			}
		}
		return zones, "the landing area", nil
	}
	a, landing, err := g.openLanding(ctx, map[string]string{"branch": branch})
	if err != nil {
		return nil, "", err
	}
	defer a.Close()
	var pipelines []*workspace.Pipeline
	if a.Config.WorkspaceDir != "" {
		ws, err := a.LoadWorkspace(ctx)
		if err != nil {
			return nil, "", err
		}
		pipelines = ws.Pipelines()
	}
	zones, err := pipeline.LandingStatus(ctx, a.Lake, landing, a.Config.Branch, pipelines, zone)
	return zones, landing.Dir(zone), err
}

// printLandingZones prints landing zones as a table, a file a row.
func printLandingZones(out io.Writer, zones []pipeline.LandingZone, where string) {
	if len(zones) == 0 {
		fmt.Fprintf(out, "no landing files in %s yet: add some with 'rat landing upload ZONE FILE...'\n", where)
		return
	}
	var rows [][]string
	for _, z := range zones {
		if len(z.Files) == 0 {
			rows = append(rows, []string{z.Zone, "", "", "", "empty", strings.Join(z.Consumers, ", ")})
		}
		for _, f := range z.Files {
			rows = append(rows, []string{z.Zone, f.Name, textout.Bytes(f.Size), f.Modified.Format("2006-01-02 15:04:05"), f.Status, strings.Join(z.Consumers, ", ")})
		}
	}
	textout.Table(out, []string{"ZONE", "FILE", "SIZE", "MODIFIED (UTC)", "STATUS", "READ BY"}, rows)
}

// nonNilZones makes no zones encode as [] rather than null.
func nonNilZones(z []pipeline.LandingZone) []pipeline.LandingZone {
	if z == nil {
		return []pipeline.LandingZone{}
	}
	return z
}

func newLandingRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rm ZONE FILE...",
		Short: "Remove files from a landing zone",
		Long: `Remove files from a landing zone by name (as 'rat landing list' shows them).
Every name is checked before the first file is removed. What pipelines
ingested stays in their tables and in the file registry, so uploading the
same content again is not read twice by an incremental pipeline.`,
		Example: `  rat landing rm orders orders-2024-05-01.csv`,
		Args:    minArgs(2, "a landing zone and one or more file names"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			zone, names := args[0], args[1:]
			if err := ingest.ValidateZone(zone); err != nil {
				return err
			}
			for _, n := range names {
				if err := ingest.ValidateFileName(n); err != nil {
					return err
				}
			}
			a, landing, err := g.openLanding(ctx, nil)
			if err != nil {
				return err
			}
			defer a.Close()
			for _, n := range names {
				if err := landing.Check(ctx, zone, n); err != nil {
					return err
				}
			}
			for _, n := range names {
				if err := landing.Remove(ctx, zone, n); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s%s\n", landing.Dir(zone), n)
			}
			return nil
		},
	}
}
