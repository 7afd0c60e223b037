package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/ingest"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/workspace"
)

// LandingZone is one zone of the landing area: the pipelines that read it
// and its files, each consumed (by which run) or waiting.
type LandingZone struct {
	Zone      string        `json:"zone"`
	Consumers []string      `json:"consumers"`
	Files     []LandingFile `json:"files"`
}

// LandingFile is a file of a landing zone with what the registry says of it.
type LandingFile struct {
	Name     string         `json:"name"`
	Size     int64          `json:"size"`
	Format   string         `json:"format"`
	Modified time.Time      `json:"modified"`
	Status   string         `json:"status"` // consumed (by every consumer), waiting, or unread (no pipeline reads the zone)
	Consumed []ConsumedFile `json:"consumed"`
}

// ConsumedFile says which pipeline read a file, in which run and when.
type ConsumedFile struct {
	Pipeline string    `json:"pipeline"`
	Run      string    `json:"run"`
	At       time.Time `json:"at"`
}

// LandingStatus lists the landing zones, by name: those the pipelines read
// and those holding files (only zone, when not ""), with each file's status
// on a branch (the file registry lives on branches like data).
func LandingStatus(ctx context.Context, l *lake.Lake, landing *ingest.Landing, branch string, pipelines []*workspace.Pipeline, only string) ([]LandingZone, error) {
	zones := map[string]*LandingZone{}
	zone := func(name string) *LandingZone {
		z := zones[name]
		if z == nil {
			z = &LandingZone{Zone: name, Consumers: []string{}, Files: []LandingFile{}}
			zones[name] = z
		}
		return z
	}
	for _, p := range pipelines {
		for _, name := range p.Landings {
			if only == "" || name == only {
				z := zone(name)
				z.Consumers = append(z.Consumers, p.ID.String())
			}
		}
	}
	entries, err := landing.List(ctx, only)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		z := zone(e.Zone)
		z.Files = append(z.Files, LandingFile{Name: e.Name, Size: e.Size, Modified: e.Modified, Format: formatOf(e.Name), Consumed: []ConsumedFile{}})
	}
	consumed, err := consumedFiles(ctx, l, branch)
	if err != nil {
		return nil, err
	}
	out := make([]LandingZone, 0, len(zones))
	for _, z := range zones {
		for i := range z.Files {
			f := &z.Files[i]
			if c := consumed[z.Zone+"/"+f.Name]; c != nil {
				f.Consumed = c
			}
			f.Status = fileStatus(z.Consumers, f.Consumed)
		}
		out = append(out, *z)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Zone < out[j].Zone })
	return out, nil
}

func formatOf(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		return strings.ToLower(name[i+1:])
	}
	return ""
}

// fileStatus is consumed when every pipeline reading the zone read the
// file, waiting when one has not yet, unread when no pipeline reads it.
func fileStatus(consumers []string, got []ConsumedFile) string {
	if len(consumers) == 0 {
		return "unread"
	}
	read := map[string]bool{}
	for _, c := range got {
		read[c.Pipeline] = true
	}
	for _, c := range consumers {
		if !read[c] {
			return "waiting"
		}
	}
	return "consumed"
}

// consumedFiles reads the file registry on a branch: for each zone/file,
// which pipelines read it, in which run and when. The registry is keyed by
// content hash; a file is matched by its recorded zone and name.
func consumedFiles(ctx context.Context, l *lake.Lake, branch string) (map[string][]ConsumedFile, error) {
	out := map[string][]ConsumedFile{}
	if _, err := l.Store().Table(ctx, branch, Registry); rat.IsCode(err, rat.ENOTFOUND) {
		return out, nil
	} else if err != nil {
		return nil, err
	}
	q := fmt.Sprintf("SELECT zone, file, consumer, arg_min(run_id, ingested_at), min(ingested_at) FROM %s GROUP BY zone, file, consumer ORDER BY 5", Registry)
	err := l.Query(ctx, branch, lake.At{}, q, func(rows *sql.Rows) error {
		for rows.Next() {
			var zone, file string
			var c ConsumedFile
			if err := rows.Scan(&zone, &file, &c.Pipeline, &c.Run, &c.At); err != nil {
				return err
			}
			c.At = c.At.UTC()
			out[zone+"/"+file] = append(out[zone+"/"+file], c)
		}
		return rows.Err()
	})
	return out, err
}
