package rat

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunStatusTransitions: the one state machine of runs and nodes allows
// exactly the listed moves; final states move nowhere.
func TestRunStatusTransitions(t *testing.T) {
	t.Parallel()
	all := []RunStatus{"", RunQueued, RunWaiting, RunRunning, RunSuccess, RunFailed, RunSkipped, RunPlanned}
	legal := map[[2]RunStatus]bool{}
	for _, m := range [][2]RunStatus{
		{"", RunQueued}, {"", RunWaiting}, {"", RunRunning}, {"", RunSuccess}, {"", RunFailed}, {"", RunSkipped}, {"", RunPlanned},
		{RunQueued, RunQueued}, {RunQueued, RunRunning}, {RunQueued, RunSuccess}, {RunQueued, RunFailed}, {RunQueued, RunSkipped},
		{RunWaiting, RunWaiting}, {RunWaiting, RunQueued}, {RunWaiting, RunRunning}, {RunWaiting, RunFailed}, {RunWaiting, RunSkipped},
		{RunRunning, RunRunning}, {RunRunning, RunQueued}, {RunRunning, RunSuccess}, {RunRunning, RunFailed}, {RunRunning, RunSkipped},
		{"", ""},
	} {
		legal[m] = true
	}
	for _, from := range all {
		for _, to := range all {
			want := legal[[2]RunStatus{from, to}]
			if got := from.CanBecome(to); got != want {
				t.Errorf("%q → %q: CanBecome = %v, want %v", from, to, got, want)
			}
			next, err := from.To(to)
			switch {
			case want && (err != nil || next != to):
				t.Errorf("%q → %q: To = %q, %v", from, to, next, err)
			case !want && (err == nil || !IsCode(err, EINTERNAL) || next != from):
				t.Errorf("%q → %q: To = %q, %v; want an internal error and the state kept", from, to, next, err)
			}
		}
	}
	for _, s := range all {
		if s.Final() == s.Active() && s != "" {
			t.Errorf("%q: final %v, active %v", s, s.Final(), s.Active())
		}
	}
}

// TestRunDetailJSON: a run's detail keeps the JSON shape of the records
// and API documents written before it was typed.
func TestRunDetailJSON(t *testing.T) {
	t.Parallel()
	old := `{"id":"20260101-000000-abcd","target":"main","run_branch":"run/20260101-000000-abcd","status":"success","started":"2026-01-01T00:00:00Z","duration":1.500,` +
		`"nodes":[{"pipeline":"silver.a","status":"success","kind":"table","rows":3,"files":1,"bytes":10,"duration":0.250}],"tests":[],"commit":"c1","hashes":{"silver.a":"h"}}`
	d, err := UnmarshalDetail([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != RunSuccess || time.Duration(d.Duration) != 1500*time.Millisecond || len(d.Nodes) != 1 || d.Nodes[0].Rows != 3 || d.Hashes["silver.a"] != "h" {
		t.Fatalf("decoded %+v", d)
	}
	b, err := MarshalDetail(d)
	if err != nil || string(b) != old {
		t.Fatalf("encoded again:\n%s\nwant\n%s (%v)", b, old, err)
	}
	rec := d.Record()
	if rec.ID != d.ID || rec.Status != RunSuccess || !rec.Finished.Equal(d.Started.Add(1500*time.Millisecond)) || rec.Detail.Commit != "c1" {
		t.Fatalf("record %+v", rec)
	}
	if e, err := UnmarshalDetail(nil); err != nil || e.ID != "" {
		t.Fatalf("empty detail: %+v %v", e, err)
	}
	if _, err := UnmarshalDetail([]byte(`{"status":`)); err == nil {
		t.Fatal("a damaged detail decoded")
	}
	var s Seconds
	if err := json.Unmarshal([]byte(`0.002`), &s); err != nil || time.Duration(s) != 2*time.Millisecond {
		t.Fatalf("seconds: %v %v", s, err)
	}
}

func TestRunBranch(t *testing.T) {
	t.Parallel()
	if got := RunBranch("20260101-000000-abcd"); got != "run/20260101-000000-abcd" || !ReservedRefName(got) {
		t.Fatalf("RunBranch = %q", got)
	}
}

func TestRunFailure(t *testing.T) {
	for _, c := range []struct {
		name string
		res  RunDetail
		code string
		want string
	}{
		{"node error keeps its code", RunDetail{ID: "r1", Target: "main", RunBranch: "run/r1", Status: RunFailed, Nodes: []NodeRun{
			{Pipeline: "bronze.a", Status: RunSuccess},
			{Pipeline: "silver.b", Status: RunFailed, Error: "silver/b.sql:3: no such column x", Code: EINVALID},
			{Pipeline: "gold.c", Status: RunFailed, Error: "later"},
		}}, EINVALID, "run r1 failed: silver/b.sql:3: no such column x; main was not changed; inspect the run branch run/r1"},
		{"node error without a code is internal", RunDetail{ID: "r2", Target: "dev", RunBranch: "run/r2", Nodes: []NodeRun{
			{Pipeline: "silver.b", Status: RunFailed, Error: "disk full"},
		}}, EINTERNAL, "run r2 failed: disk full; dev was not changed"},
		{"run error first", RunDetail{ID: "r3", Target: "main", RunBranch: "run/r3", Error: "publish: conflict", Nodes: []NodeRun{
			{Pipeline: "silver.b", Status: RunFailed, Error: "x", Code: EINVALID},
		}}, EINTERNAL, "run r3 failed: publish: conflict;"},
		{"failed test", RunDetail{ID: "r4", Target: "main", RunBranch: "run/r4", Tests: []TestRun{
			{Name: "warned", Pipeline: "silver.b", Status: "fail", Severity: "warn", Violations: 1},
			{Name: "not_null_id", Pipeline: "silver.b", Status: "fail", Severity: "error", Violations: 7},
		}}, ETESTFAILED, "run r4 failed: test not_null_id of silver.b failed (7 violating rows)"},
		{"test that could not run", RunDetail{ID: "r5", Target: "main", RunBranch: "run/r5", Tests: []TestRun{
			{Name: "custom", Pipeline: "gold.c", Status: "error", Severity: "error", Error: "no such table"},
		}}, ETESTFAILED, "run r5 failed: test custom of gold.c: no such table"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.res.Failure()
			if !IsCode(err, c.code) {
				t.Errorf("code of %v = %s, want %s", err, ErrorCode(err), c.code)
			}
			if got := err.Error(); len(got) < len(c.want) || got[:len(c.want)] != c.want {
				t.Errorf("Failure() = %q, want it to start with %q", got, c.want)
			}
		})
	}
}

// TestRunSummaryJSON: a run as the API lists it carries its times in UTC, no
// finish while it runs, and decodes back to the same record (rat runs list
// --server reads it so).
func TestRunSummaryJSON(t *testing.T) {
	t.Parallel()
	east := time.FixedZone("east", 3600)
	started := time.Date(2026, 1, 2, 7, 0, 0, 0, east)
	for _, run := range []Run{
		{ID: "r1", Target: "main", Status: RunSuccess, Trigger: "schedule", Started: started, Finished: started.Add(90 * time.Second)},
		{ID: "r2", Target: "dev", Status: RunRunning, Trigger: "manual", Started: started},
	} {
		b, err := json.Marshal(run.Summary())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m["started"] != "2026-01-02T06:00:00Z" || m["status"] != string(run.Status) {
			t.Errorf("%s: %s", run.ID, b)
		}
		if _, ok := m["finished"]; ok != !run.Finished.IsZero() {
			t.Errorf("%s: finished present = %v in %s", run.ID, ok, b)
		}
		var s RunSummary
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		back := s.Record()
		if back.ID != run.ID || back.Target != run.Target || back.Status != run.Status || back.Trigger != run.Trigger ||
			!back.Started.Equal(run.Started) || !back.Finished.Equal(run.Finished) {
			t.Errorf("%s: decoded %+v, want %+v", run.ID, back, run)
		}
	}
}

// TestHeartbeat: beat runs until it returns false; stop ends the beats and
// returns once no beat runs any more, and no beat starts after ctx ended.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	ended := make(chan struct{})
	stop := Heartbeat(context.Background(), time.Millisecond, func() bool {
		if n.Add(1) == 3 {
			close(ended)
			return false
		}
		return true
	})
	<-ended
	stop()
	if got := n.Load(); got != 3 {
		t.Errorf("%d beats, want 3: beat returned false at the third", got)
	}

	n.Store(0)
	stop = Heartbeat(context.Background(), time.Millisecond, func() bool { n.Add(1); return true })
	for n.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	stop()
	after := n.Load()
	time.Sleep(20 * time.Millisecond)
	if n.Load() != after {
		t.Errorf("beats went on after stop: %d, then %d", after, n.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.Store(0)
	stop = Heartbeat(ctx, time.Millisecond, func() bool { n.Add(1); return true })
	time.Sleep(20 * time.Millisecond)
	stop()
	if n.Load() > 1 {
		t.Errorf("%d beats after ctx ended", n.Load())
	}
}
