package lake

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ratdata/rat"
)

// RunRecords is what orphan cleanup reads of the run history (the
// catalog's SQL stores implement it).
type RunRecords interface {
	// Run returns one run record; rat.ENOTFOUND when there is none.
	Run(ctx context.Context, id string) (rat.Run, error)
	// Runs lists run records, newest first.
	Runs(ctx context.Context, f rat.RunFilter) ([]rat.Run, error)
	// PruneRuns deletes the records (and logs) of runs that finished
	// before before, except each target's newest success.
	PruneRuns(ctx context.Context, before time.Time) (int64, error)
}

// OrphanOptions tune Orphans.
type OrphanOptions struct {
	// OlderThan is the grace period: a file modified within it is kept,
	// and so is the branch of a run that ended within it. The caller
	// makes sure it is longer than any writer may take before its commit
	// (see Config.MaxWriteAge).
	OlderThan time.Duration
	// Tables limits the files looked at to these tables' directories
	// (nil = every table). Branches are judged whatever it says.
	Tables []rat.TableID
	// DryRun plans and reports without changing anything.
	DryRun bool
	// Now is the reference time (zero = time.Now()).
	Now time.Time
	// Runs is the run history: it tells ended runs from running ones.
	Runs RunRecords
	// RunRetention, when above 0, prunes the records and logs of runs
	// that finished longer ago than this (never in a dry run).
	RunRetention time.Duration
}

// OrphanFile is a file nothing references.
type OrphanFile struct {
	Key      string    `json:"key"`
	Bytes    int64     `json:"bytes"`
	Modified time.Time `json:"modified"`
	AgeSec   int64     `json:"age_seconds"`
}

// OrphanBranch is an abandoned branch of rat's own.
type OrphanBranch struct {
	Name   string    `json:"name"`
	Reason string    `json:"reason"` // why it is abandoned
	Since  time.Time `json:"since"`  // when its run ended, or began when there is no record
}

// OrphanResult reports what Orphans did (or, dry, would do).
type OrphanResult struct {
	Branches []OrphanBranch `json:"branches"` // deleted, by name
	Files    []OrphanFile   `json:"files"`    // deleted, by key
	Bytes    int64          `json:"bytes"`
	// Young counts the unreferenced files kept because they are within the
	// grace period or were written since the oldest active run began.
	Young      int   `json:"young_files"`
	YoungBytes int64 `json:"young_bytes"`
	// ActiveSince is when the oldest queued or running run began (zero:
	// none): every file written since is kept, whatever the grace.
	ActiveSince time.Time `json:"active_since,omitzero"`
	// RunsPruned counts the run records (with their logs) pruned.
	RunsPruned int64 `json:"runs_pruned"`
}

// Orphans deletes abandoned run/ and ingest/ branches and the warehouse
// files nothing references.
//
// A run/<id> branch is abandoned when its run ended (failed, cancelled,
// owner lost) before the grace period, or when it has no run record and
// its id was made before the grace period; a branch of a queued or running
// run is never touched. An ingest/<id> branch is abandoned when its id was
// made before the grace period (rat ingest deletes its branch when it
// ends; one left behind is from a killed process). Only branches rat made
// (Internal) are deleted, and their files go in the same pass.
//
// A file is deleted when it lies in rat's warehouse layout
// (<layer>/<name>/data/*.parquet, <layer>/<name>/metadata/*.avro and
// *.metadata.json, <layer>/<name>/views/*.view.json; layers starting with
// _ other than _rat are left alone: the landing area on S3 is _landing),
// was modified before the grace period and before the oldest active run
// began, and nothing references it: no table at the head of any branch or
// tag (any snapshot), or at any commit reachable from one (its metadata
// file and current snapshot), and no view at either. A file that cannot be
// read to decide stops the whole pass before anything is deleted.
func (l *Lake) Orphans(ctx context.Context, opts OrphanOptions) (OrphanResult, error) {
	var res OrphanResult
	if opts.OlderThan < 0 {
		return res, rat.Errorf(rat.EINVALID, "orphans: the grace period must not be negative")
	}
	if opts.Runs == nil {
		return res, rat.Errorf(rat.EINVALID, "orphans: no run history to tell running runs from ended ones")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	cutoff := now.Add(-opts.OlderThan)

	// Runs queued or running now: the files they write are not referenced
	// until they commit, however long they take.
	for _, st := range []rat.RunStatus{rat.RunQueued, rat.RunRunning} {
		runs, err := opts.Runs.Runs(ctx, rat.RunFilter{Status: st, Limit: 1 << 30})
		if err != nil {
			return res, fmt.Errorf("orphans: list the active runs (nothing deleted): %w", err)
		}
		for _, r := range runs {
			if res.ActiveSince.IsZero() || r.Started.Before(res.ActiveSince) {
				res.ActiveSince = r.Started
			}
		}
	}
	keepAfter := cutoff
	if !res.ActiveSince.IsZero() && res.ActiveSince.Before(keepAfter) {
		keepAfter = res.ActiveSince
	}

	refs, err := l.store.Refs(ctx)
	if err != nil {
		return res, err
	}
	var live []rat.Ref
	for _, ref := range refs {
		b, abandoned, err := abandonedBranch(ctx, ref, cutoff, opts.Runs)
		if err != nil {
			return res, fmt.Errorf("orphans: branch %s (nothing deleted): %w", ref.Name, err)
		}
		if abandoned {
			res.Branches = append(res.Branches, b)
		} else {
			live = append(live, ref)
		}
	}

	// What the remaining refs reference, through every reachable commit.
	st, err := l.refState(ctx, live, time.Time{}, nil, true)
	if err != nil {
		return res, fmt.Errorf("orphans: read what the branches and tags reference (nothing deleted): %w", err)
	}
	referenced, err := l.referencedFiles(ctx, st, nil)
	if err != nil {
		return res, fmt.Errorf("orphans: list the files still referenced (nothing deleted): %w", err)
	}
	prefixes := []string{""}
	if opts.Tables != nil {
		prefixes = prefixes[:0]
		for _, id := range opts.Tables {
			if err := id.Validate(); err != nil {
				return res, err
			}
			prefixes = append(prefixes, id.Layer+"/"+id.Name+"/")
		}
	}
	for _, prefix := range prefixes {
		infos, err := l.objects.List(ctx, prefix)
		if err != nil {
			return res, fmt.Errorf("orphans: list the warehouse (nothing deleted): %w", err)
		}
		for _, info := range infos {
			if !warehouseFile(info.Key) || referenced[info.Key] {
				continue
			}
			if !info.ModTime.Before(keepAfter) {
				res.Young++
				res.YoungBytes += info.Size
				continue
			}
			res.Files = append(res.Files, OrphanFile{Key: info.Key, Bytes: info.Size, Modified: info.ModTime.UTC(), AgeSec: int64(now.Sub(info.ModTime) / time.Second)})
			res.Bytes += info.Size
		}
	}
	sort.Slice(res.Files, func(i, j int) bool { return res.Files[i].Key < res.Files[j].Key })
	if opts.DryRun {
		return res, nil
	}
	for _, b := range res.Branches {
		if err := l.store.DeleteRef(ctx, b.Name); err != nil && !rat.IsCode(err, rat.ENOTFOUND) {
			return res, fmt.Errorf("orphans: delete branch %s: %w", b.Name, err)
		}
	}
	for _, f := range res.Files {
		if err := l.objects.Delete(ctx, f.Key); err != nil {
			return res, fmt.Errorf("orphans: delete %s: %w", f.Key, err)
		}
	}
	if opts.RunRetention > 0 {
		n, err := opts.Runs.PruneRuns(ctx, now.Add(-opts.RunRetention))
		if err != nil {
			return res, fmt.Errorf("orphans: prune run records: %w", err)
		}
		res.RunsPruned = n
	}
	return res, nil
}

// abandonedBranch judges one ref: a branch rat made for a run or an
// ingestion that nothing will write or publish any more, since before
// cutoff.
func abandonedBranch(ctx context.Context, ref rat.Ref, cutoff time.Time, runs RunRecords) (OrphanBranch, bool, error) {
	if ref.Kind != rat.Branch || !ref.Internal {
		return OrphanBranch{}, false, nil
	}
	b := OrphanBranch{Name: ref.Name}
	if id, ok := strings.CutPrefix(ref.Name, rat.IngestBranchPrefix); ok {
		made, ok := runIDTime(id)
		if !ok || !made.Before(cutoff) {
			return b, false, nil
		}
		b.Reason, b.Since = "ingestion left behind", made
		return b, true, nil
	}
	id, ok := strings.CutPrefix(ref.Name, rat.RunBranchPrefix)
	if !ok {
		return b, false, nil
	}
	rec, err := runs.Run(ctx, id)
	switch {
	case rat.IsCode(err, rat.ENOTFOUND):
		made, ok := runIDTime(id)
		if !ok || !made.Before(cutoff) {
			return b, false, nil
		}
		b.Reason, b.Since = "no run record", made
		return b, true, nil
	case err != nil:
		return b, false, err
	case !rec.Status.Final():
		return b, false, nil // queued or running: never touched
	}
	b.Since = rec.Finished
	if b.Since.IsZero() {
		b.Since = rec.Started
	}
	if !b.Since.Before(cutoff) {
		return b, false, nil
	}
	b.Reason = "run " + string(rec.Status)
	return b, true, nil
}

// runIDTime reads the time a run or ingestion id was made at
// (rat.NewRunID: 20060102-150405-abcd).
func runIDTime(id string) (time.Time, bool) {
	if len(id) < len("20060102-150405") {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102-150405", id[:len("20060102-150405")])
	return t, err == nil
}

// warehouseFile reports whether key is a file of rat's warehouse layout:
// <layer>/<name>/data/<file>.parquet, <layer>/<name>/metadata/<file>.avro
// or .metadata.json, <layer>/<name>/views/<file>.view.json. Layers that
// start with _ (but rat's own, _rat) are not tables' (the landing area on
// S3 is _landing/).
func warehouseFile(key string) bool {
	parts := strings.Split(key, "/")
	if len(parts) != 4 {
		return false
	}
	id := rat.TableID{Layer: parts[0], Name: parts[1]}
	if id.Validate() != nil || (strings.HasPrefix(id.Layer, "_") && !id.Internal()) {
		return false
	}
	file := parts[3]
	switch parts[2] {
	case "data":
		return strings.HasSuffix(file, ".parquet")
	case "metadata":
		return strings.HasSuffix(file, ".avro") || strings.HasSuffix(file, ".metadata.json")
	case "views":
		return strings.HasSuffix(file, ".view.json")
	}
	return false
}
