package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	ratapp "github.com/ratdata/rat/internal/app"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/migrate"
)

// TestLifecycleAfter200Runs is issue 15's acceptance of expiry and orphan
// cleanup: 200 queued runs on a rat serve + rat worker — most succeed, a
// quarter fail their quality test (their run branches are kept with the
// files they wrote), two are killed mid-build with kill -9 of the worker
// and taken over by the restarted one — with loads, a branch and a tag
// along the way. Then rat maintain expire keeps the last 3 snapshots and
// rat maintain orphans, past its grace period, deletes the abandoned run
// branches and what only they referenced: every branch, the tag and the
// last 3 snapshots of each table read the same, and the warehouse holds
// only the files some ref's history references (computed from the Iceberg
// metadata, as rat export --ref does), plus a file younger than the grace.
func TestLifecycleAfter200Runs(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		began := time.Now()
		const ws = "name: life\nresources:\n  max_parallel_pipelines: 2\nruns:\n  lease: 1s\n"
		u.write("workspace.yaml", ws)
		load := func(from, branch string) {
			t.Helper()
			var csv strings.Builder
			csv.WriteString("id,v\n")
			for i := range 10 {
				fmt.Fprintf(&csv, "%d,%s-%d\n", len(from)*100+i, from, i)
			}
			u.write("src.csv", csv.String())
			u.ok("load", "src.csv", "--into", "bronze.src", "--branch", branch)
		}
		load("a", "main")
		u.write("pipelines/silver/good.sql", "SELECT id, v FROM {{ ref('bronze.src') }}\n")
		u.write("pipelines/silver/bad/pipeline.sql", "SELECT id FROM {{ ref('bronze.src') }}\n")
		u.write("pipelines/silver/bad/tests/quality/none_positive.sql", "-- @name: none_positive\n-- @severity: error\nSELECT * FROM {{ this }} WHERE id > 0\n")
		slow := "SELECT count(*) AS id FROM {{ ref('bronze.src') }} q, range(100000000000) r WHERE hash(r.range + q.id) >= 0\n"
		for _, p := range []string{"slow_a", "slow_b"} {
			u.write("pipelines/silver/"+p+".sql", slow)
		}

		base := startServe(t, u, "--no-worker")
		workerReady := regexp.MustCompile(`(worker started)`)
		_, worker := startProcess(t, u, workerReady, "worker")

		// Two runs killed mid-build: both nodes of silver.slow are being
		// built when the worker is killed; the restarted worker takes them
		// over once their lease has passed, with a quick silver.slow.
		db := openQueueDB(t, u)
		slowPipelines := []string{"silver.slow_a", "silver.slow_b"}
		var killed []string
		for _, p := range slowPipelines {
			killed = append(killed, postRun(t, base, fmt.Sprintf(`{"selectors": [%q]}`, p)))
		}
		for i, id := range killed {
			waitNodeRunning(t, u, db, id, slowPipelines[i])
		}
		if err := worker.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = worker.Wait()
		for _, p := range []string{"slow_a", "slow_b"} {
			u.write("pipelines/silver/"+p+".sql", "SELECT count(*) AS id FROM {{ ref('bronze.src') }}\n")
		}
		// One node at a time from here: two runs overwriting silver.good on
		// one branch at once conflict when the second publishes.
		one := *u
		one.env = append(slices.Clone(u.env), "RAT_MAX_PARALLEL_PIPELINES=1")
		startProcess(t, &one, workerReady, "worker")
		t.Logf("%s: worker killed with 2 runs mid-build and restarted", time.Since(began).Round(time.Millisecond))

		// 198 more: three batches, with loads, a branch and a tag between.
		var good, bad []string
		batch := func(n int, branches ...string) {
			t.Helper()
			var ids []string
			for i := range n {
				branch := branches[i%len(branches)]
				if i%4 == 3 {
					bad = append(bad, postRun(t, base, fmt.Sprintf(`{"selectors": ["silver.bad"], "branch": %q}`, branch)))
					ids = append(ids, bad[len(bad)-1])
				} else {
					good = append(good, postRun(t, base, fmt.Sprintf(`{"selectors": ["silver.good"], "branch": %q}`, branch)))
					ids = append(ids, good[len(good)-1])
				}
			}
			waitRunsFinal(t, u, ids)
		}
		batch(66, "main")
		waitRunsFinal(t, u, killed)
		load("bb", "main")
		u.ok("branch", "create", "dev")
		batch(66, "main", "dev")
		u.ok("tag", "create", "v1")
		load("ccc", "dev")
		batch(66, "dev", "main")

		t.Logf("%s: 200 runs ended", time.Since(began).Round(time.Millisecond))
		runs := map[string]rat.RunDetail{}
		var list []rat.RunDetail
		if err := json.Unmarshal([]byte(u.ok("runs", "list", "--json", "-n", "1000")), &list); err != nil {
			t.Fatal(err)
		}
		for _, r := range list {
			runs[r.ID] = r
		}
		posted := map[string]int{}
		for _, id := range append(append(slices.Clone(good), bad...), killed...) {
			posted[id]++
			if posted[id] == 2 {
				t.Errorf("two runs were given the id %s", id)
			}
			if _, ok := runs[id]; !ok {
				t.Errorf("run %s is not in rat runs list", id)
			}
		}
		if len(runs) != 200 {
			t.Fatalf("rat runs list shows %d runs, want 200", len(runs))
		}
		for _, id := range append(slices.Clone(good), killed...) {
			if r := runs[id]; r.Status != rat.RunSuccess {
				t.Errorf("run %s (%v) ended %s: %s", id, r.Selectors, r.Status, u.ok("runs", "show", id))
			}
		}
		for _, id := range bad {
			if r := runs[id]; r.Status != rat.RunFailed {
				t.Errorf("run %s of silver.bad ended %s: %s; want failed by its quality test", id, r.Status, r.Error)
			}
		}
		var first rat.RunDetail
		if err := json.Unmarshal([]byte(u.ok("runs", "show", bad[0], "--json")), &first); err != nil {
			t.Fatal(err)
		}
		if len(first.Tests) != 1 || first.Tests[0].Name != "none_positive" || first.Tests[0].Status != "fail" {
			t.Errorf("the tests of run %s of silver.bad: %+v; want none_positive failing", bad[0], first.Tests)
		}
		for i, id := range killed {
			if _, _, attempt := dagNode(t, db, id, slowPipelines[i]); attempt < 2 {
				t.Errorf("run %s built %s in attempt %d, want a second attempt after the kill", id, slowPipelines[i], attempt)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		names, _ := u.branches()
		runBranches := 0
		for _, n := range names {
			if strings.HasPrefix(n, "run/") {
				runBranches++
			}
		}
		if runBranches != len(bad) {
			t.Fatalf("%d run branches are kept, want the %d of the failed runs: %v", runBranches, len(bad), names)
		}

		// What every ref and the last 3 snapshots of each table read.
		const retain = 3
		tables := map[string][]string{
			"main": {"bronze.src", "silver.good", "silver.slow_a", "silver.slow_b"},
			"dev":  {"bronze.src", "silver.good", "silver.slow_a", "silver.slow_b"},
			"v1":   {"bronze.src", "silver.good", "silver.slow_a", "silver.slow_b"},
		}
		read := func() string {
			t.Helper()
			var b strings.Builder
			for _, ref := range []string{"main", "dev", "v1"} {
				for _, tbl := range tables[ref] {
					q := "SELECT count(*), sum(id) FROM " + tbl
					fmt.Fprintf(&b, "%s %s: %s", ref, tbl, u.ok("query", q, "--branch", ref, "--format", "csv"))
					if ref == "v1" {
						continue
					}
					var info struct {
						Snapshots []struct {
							ID int64 `json:"id"`
						} `json:"snapshots"`
					}
					if err := json.Unmarshal([]byte(u.ok("describe", tbl, "--json", "--branch", ref)), &info); err != nil {
						t.Fatal(err)
					}
					last := info.Snapshots[max(0, len(info.Snapshots)-retain):]
					for _, s := range last {
						fmt.Fprintf(&b, "%s %s@%d: %s", ref, tbl, s.ID, u.ok("query", q, "--branch", ref, "--at", fmt.Sprint(s.ID), "--format", "csv"))
					}
				}
			}
			return b.String()
		}
		want := read()
		t.Logf("%s: refs and snapshots read", time.Since(began).Round(time.Millisecond))

		out := u.ok("maintain", "expire", "--older-than", "0d", "--retain-last", fmt.Sprint(retain))
		if !strings.Contains(out, "deleted") {
			t.Fatalf("rat maintain expire:\n%s", out)
		}
		if got := read(); got != want {
			t.Fatalf("reads changed by expiry:\n%s\nwant\n%s", got, want)
		}

		const grace = 6 * time.Second
		u.write("workspace.yaml", ws+"maintenance:\n  orphans:\n    older_than: 6s\n")
		a := openLake(t, u)
		ctx := context.Background()
		// The files some ref's history references, and those of the
		// warehouse outside that set.
		unreferenced := func(refs func(rat.Ref) bool) []string {
			t.Helper()
			all, err := a.Store.Refs(ctx)
			if err != nil {
				t.Fatal(err)
			}
			keep := map[string]bool{}
			for _, r := range all {
				if !refs(r) {
					continue
				}
				files, err := migrate.RefFiles(ctx, a.Store, a.Objects, r.Name)
				if err != nil {
					t.Fatalf("the files of %s: %v", r.Name, err)
				}
				for k := range files {
					keep[k] = true
				}
			}
			listed, err := a.Objects.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			var extra []string
			for _, f := range listed {
				if !keep[f.Key] {
					extra = append(extra, fmt.Sprintf("%s (%s old)", f.Key, time.Since(f.ModTime).Round(time.Millisecond)))
				}
			}
			return extra
		}
		notRun := func(r rat.Ref) bool { return !strings.HasPrefix(r.Name, "run/") }
		if extra := unreferenced(notRun); len(extra) == 0 {
			t.Fatal("before orphan cleanup no file is referenced only by the failed runs' branches")
		}

		time.Sleep(grace + 500*time.Millisecond) // every file is past the grace period
		const young = "silver/good/data/00000-0-young-orphan.parquet"
		if err := a.Objects.Put(ctx, young, strings.NewReader("not referenced"), 14); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: expired, waited out the grace period", time.Since(began).Round(time.Millisecond))
		defer func() {
			t.Logf("%s: orphans deleted, the warehouse checked", time.Since(began).Round(time.Millisecond))
		}()
		out = u.ok("maintain", "orphans")
		if !strings.Contains(out, fmt.Sprintf("deleted %d branches and ", len(bad))) || strings.Contains(out, "and 0 files") {
			t.Fatalf("rat maintain orphans:\n%s\nwant the %d failed runs' branches and their files deleted", out, len(bad))
		}
		if got := read(); got != want {
			t.Fatalf("reads changed by orphan cleanup:\n%s\nwant\n%s", got, want)
		}
		names, _ = u.branches()
		for _, n := range names {
			if strings.HasPrefix(n, "run/") {
				t.Errorf("branch %s is left", n)
			}
		}
		if extra := unreferenced(notRun); len(extra) != 1 || !strings.HasPrefix(extra[0], young+" ") {
			t.Fatalf("after orphan cleanup the warehouse holds files no ref references: %v; want only %s, younger than the grace period", extra, young)
		}
		for _, st := range []string{"queued", "running"} {
			var active []json.RawMessage
			if err := json.Unmarshal([]byte(u.ok("runs", "list", "--status", st, "--json")), &active); err != nil || len(active) != 0 {
				t.Errorf("%s runs left: %d %v", st, len(active), err)
			}
		}
	})
}

// waitRunsFinal waits until every run of ids has ended.
func waitRunsFinal(t *testing.T, u *ratUser, ids []string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(300 * time.Millisecond) {
		var runs []rat.RunDetail
		if err := json.Unmarshal([]byte(u.ok("runs", "list", "--json", "-n", "1000")), &runs); err != nil {
			t.Fatal(err)
		}
		final := map[string]bool{}
		for _, r := range runs {
			final[r.ID] = r.Status.Final()
		}
		open := 0
		for _, id := range ids {
			if !final[id] {
				open++
			}
		}
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs have not ended:\n%s", open, len(ids), u.ok("runs", "list", "-n", "20"))
		}
	}
}

// openLake opens the user's catalog and warehouse in this process, as a
// rat command in its directory would.
func openLake(t *testing.T, u *ratUser) *ratapp.App {
	t.Helper()
	env := map[string]string{}
	for _, kv := range append(slices.Clone(u.env), "RAT_PROFILE=tiny") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := config.Load(config.Options{Dir: u.dir, Environ: u.env, Env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := ratapp.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}
