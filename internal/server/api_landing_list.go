package server

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/pipeline"
)

// landingZone is one zone of GET /landing: the pipelines that read it and
// its files, each consumed (by which run) or waiting.
type landingZone struct {
	Zone      string        `json:"zone"`
	Consumers []string      `json:"consumers"`
	Files     []landingFile `json:"files"`
}

type landingFile struct {
	Name     string         `json:"name"`
	Size     int64          `json:"size"`
	Format   string         `json:"format"`
	Modified time.Time      `json:"modified"`
	Status   string         `json:"status"` // consumed (by every consumer), waiting, or unread (no pipeline reads the zone)
	Consumed []consumedFile `json:"consumed"`
}

type consumedFile struct {
	Pipeline string    `json:"pipeline"`
	Run      string    `json:"run"`
	At       time.Time `json:"at"`
}

// listLanding lists the landing zones: those the workspace's pipelines
// read and those holding files, with each file's status on the server's
// branch (the file registry lives on branches like data).
func (s *Server) listLanding(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Landing == nil {
		return rat.Errorf(rat.EUNAVAILABLE, "this server has no landing area")
	}
	ctx := r.Context()
	zones := map[string]*landingZone{}
	zone := func(name string) *landingZone {
		z := zones[name]
		if z == nil {
			z = &landingZone{Zone: name, Consumers: []string{}, Files: []landingFile{}}
			zones[name] = z
		}
		return z
	}
	if s.cfg.LoadWorkspace != nil {
		ws, err := s.cfg.LoadWorkspace(ctx)
		if err != nil {
			return err
		}
		for _, p := range ws.Pipelines() {
			for _, l := range p.Landings {
				z := zone(l)
				z.Consumers = append(z.Consumers, p.ID.String())
			}
		}
	}
	infos, err := s.cfg.Landing.Store.List(ctx, "")
	if err != nil {
		return fmt.Errorf("list landing area: %w", err)
	}
	for _, info := range infos {
		name, file, ok := strings.Cut(info.Key, "/")
		if !ok || strings.HasPrefix(name, ".") || strings.HasPrefix(file, ".") {
			continue
		}
		if _, err := landingName(file); err != nil {
			continue // a file rat does not read, or one in a sub-directory
		}
		z := zone(name)
		z.Files = append(z.Files, landingFile{Name: file, Size: info.Size, Modified: info.ModTime.UTC(), Format: formatOf(file), Consumed: []consumedFile{}})
	}
	consumed, err := s.consumedFiles(ctx)
	if err != nil {
		return err
	}
	out := make([]landingZone, 0, len(zones))
	for _, z := range zones {
		for i := range z.Files {
			f := &z.Files[i]
			f.Consumed = nonNil(consumed[z.Zone+"/"+f.Name])
			f.Status = fileStatus(z.Consumers, f.Consumed)
		}
		out = append(out, *z)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Zone < out[j].Zone })
	writeJSON(w, http.StatusOK, map[string]any{"branch": s.cfg.Branch, "zones": out})
	return nil
}

func formatOf(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		return strings.ToLower(name[i+1:])
	}
	return ""
}

// fileStatus is consumed when every pipeline reading the zone read the
// file, waiting when one has not yet, unread when no pipeline reads it.
func fileStatus(consumers []string, got []consumedFile) string {
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

// consumedFiles reads the file registry on the server's branch: for each
// zone/file, which pipelines read it, in which run and when. The registry
// is keyed by content hash; a file is matched by its recorded zone and name.
func (s *Server) consumedFiles(ctx context.Context) (map[string][]consumedFile, error) {
	out := map[string][]consumedFile{}
	if _, err := s.cfg.Store.Table(ctx, s.cfg.Branch, pipeline.Registry); rat.IsCode(err, rat.ENOTFOUND) {
		return out, nil
	} else if err != nil {
		return nil, err
	}
	q := fmt.Sprintf("SELECT zone, file, consumer, arg_min(run_id, ingested_at), min(ingested_at) FROM %s GROUP BY zone, file, consumer ORDER BY 5", pipeline.Registry)
	err := s.cfg.Lake.Query(ctx, s.cfg.Branch, lake.At{}, q, func(rows *sql.Rows) error {
		for rows.Next() {
			var zone, file string
			var c consumedFile
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
