package lake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

// retentionRows are 100 days of rows from 2026-01-01, 24 a day, one an
// hour: days from..to-1; nulls adds 5 rows without a time.
func retentionRows(from, to int, nulls bool) string {
	q := fmt.Sprintf(`SELECT i::BIGINT AS id, TIMESTAMP '2026-01-01' + to_hours(i) AS _ingested_at,
		CAST(TIMESTAMP '2026-01-01' + to_hours(i) AS DATE) AS day FROM range(%d, %d) r(i)`, from*24, to*24)
	if nulls {
		q += fmt.Sprintf(" UNION ALL SELECT (100000 + i)::BIGINT, NULL, NULL FROM range(%d, %d) r(i)", from, from+5)
	}
	return q
}

// TestRetention keeps exactly the last 30 of 100 days in a table
// partitioned by day (old files dropped whole: no file written), an
// unpartitioned one (old files dropped, the one straddling the cutoff
// rewritten) and one partitioned by month of a date column (its default
// time column); counts are checked against plain DuckDB over the same
// rows, time travel still reads the old rows, a dry run changes nothing
// and a second run commits nothing.
func TestRetention(t *testing.T) {
	backends(t, func(t *testing.T, l *Lake) {
		ctx := context.Background()
		now := time.Date(2026, 4, 11, 0, 0, 0, 0, time.UTC) // day 100
		cutoff := now.Add(-30 * 24 * time.Hour)             // 2026-03-12, day 70
		byDay := rat.TableID{Layer: "bronze", Name: "by_day"}
		flat := rat.TableID{Layer: "bronze", Name: "flat"}
		monthly := rat.TableID{Layer: "silver", Name: "monthly"}

		mustWrite(t, l, "main", byDay.String(), retentionRows(0, 100, false), WriteOptions{PartitionBy: []Partition{{Column: "_ingested_at", Transform: "day"}}})
		// Eight days per append: the file of days 64..71 straddles the cutoff.
		var all []string
		for d := 0; d < 100; d += 8 {
			src := retentionRows(d, min(d+8, 100), d == 64)
			all = append(all, src)
			mustWrite(t, l, "main", flat.String(), src, WriteOptions{})
		}
		mustWrite(t, l, "main", monthly.String(), "SELECT id, day FROM ("+retentionRows(0, 100, false)+")",
			WriteOptions{PartitionBy: []Partition{{Column: "day", Transform: "month"}}})

		count := func(id rat.TableID, at At) int64 {
			return queryInt(t, l, "main", at, "SELECT count(*) * 1000000000 + sum(id) FROM "+id.String())
		}
		// Plain DuckDB over the same rows: what must stay.
		plain := func(src, col, lit string) int64 {
			return queryInt(t, l, "main", At{}, fmt.Sprintf("SELECT count(*) * 1000000000 + sum(id) FROM (%s) WHERE NOT (%s < %s) OR %s IS NULL", src, col, lit, col))
		}
		want := map[rat.TableID]int64{
			byDay:   plain(retentionRows(0, 100, false), "_ingested_at", "TIMESTAMP '2026-03-12'"),
			flat:    plain(strings.Join(all, " UNION ALL "), "_ingested_at", "TIMESTAMP '2026-03-12'"),
			monthly: plain(retentionRows(0, 100, false), "day", "DATE '2026-03-12'"),
		}
		if days := queryInt(t, l, "main", At{}, "SELECT count(DISTINCT day) FROM ("+retentionRows(0, 100, false)+") WHERE _ingested_at >= TIMESTAMP '2026-03-12'"); days != 30 {
			t.Fatalf("the source keeps %d days, want 30", days)
		}
		before := map[rat.TableID]int64{}
		snaps := map[rat.TableID]int64{}
		files := map[rat.TableID][]string{}
		for _, id := range []rat.TableID{byDay, flat, monthly} {
			before[id] = count(id, At{})
			tbl, _, _ := currentFiles(t, l, id)
			snaps[id] = tbl.Metadata().CurrentSnapshot().SnapshotID
			files[id] = fileLocations(t, l, id)
		}
		opts := RetentionOptions{
			Policies: []RetentionPolicy{
				{Layer: "bronze", Days: 30, From: "workspace.yaml:3: layers.bronze.retention_days"},
				{Table: monthly, Days: 30, From: "pipelines/silver/monthly/config.yaml:1: retention_days"},
			},
			Now:    now,
			DryRun: true,
		}
		head := headOf(t, l, "main")
		dry, err := l.Retention(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if headOf(t, l, "main") != head {
			t.Fatal("a dry run committed")
		}
		for _, id := range []rat.TableID{byDay, flat, monthly} {
			if got := count(id, At{}); got != before[id] {
				t.Fatalf("%s changed on a dry run: %d, want %d", id, got, before[id])
			}
		}
		res, err := l.Retention(ctx, RetentionOptions{Policies: opts.Policies, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if res.Checked != 3 || len(res.Tables) != 3 {
			t.Fatalf("checked %d tables, changed %d: want 3 and 3: %+v", res.Checked, len(res.Tables), res)
		}
		for i, rt := range res.Tables {
			d := dry.Tables[i]
			if d.Table != rt.Table || d.Rows != rt.Rows || d.FilesDropped != rt.FilesDropped || d.FilesRewritten != rt.FilesRewritten || d.BytesDropped != rt.BytesDropped {
				t.Errorf("dry run planned %+v, the run did %+v", d, rt)
			}
			if !rt.Cutoff.Equal(cutoff) {
				t.Errorf("%s: cutoff %v, want %v", rt.Table, rt.Cutoff, cutoff)
			}
			id := rt.Table
			if got := count(id, At{}); got != want[id] {
				t.Errorf("%s after retention: %d, want %d (plain DuckDB)", id, got, want[id])
			}
			if gone := before[id]/1000000000 - want[id]/1000000000; rt.Rows != gone {
				t.Errorf("%s: reported %d rows deleted, want %d", id, rt.Rows, gone)
			}
			if got := count(id, At{SnapshotID: snaps[id]}); got != before[id] {
				t.Errorf("%s at the snapshot before retention: %d, want %d", id, got, before[id])
			}
		}
		byName := map[rat.TableID]RetentionTable{}
		for _, rt := range res.Tables {
			byName[rt.Table] = rt
		}
		// Partitioned by day: 70 files dropped whole, nothing read or written.
		if rt := byName[byDay]; rt.FilesDropped != 70 || rt.FilesRewritten != 0 || rt.FilesWritten != 0 || rt.Column != "_ingested_at" {
			t.Errorf("by_day: %+v, want 70 files dropped and none rewritten", rt)
		}
		after := fileLocations(t, l, byDay)
		if len(after) != 30 {
			t.Errorf("by_day has %d files, want 30", len(after))
		}
		for _, f := range after {
			if !slices.Contains(files[byDay], f) {
				t.Errorf("by_day: new file %s: a metadata-only drop writes none", f)
			}
		}
		// Unpartitioned, eight days a file: days 0..63 dropped (8 files),
		// 64..71 rewritten.
		if rt := byName[flat]; rt.FilesDropped != 8 || rt.FilesRewritten != 1 || rt.FilesWritten != 1 {
			t.Errorf("flat: %+v, want 8 files dropped, 1 rewritten", rt)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.flat WHERE _ingested_at IS NULL"); n != 5 {
			t.Errorf("flat keeps %d rows without a time, want 5", n)
		}
		// Month of a date: January and February dropped, March rewritten.
		if rt := byName[monthly]; rt.Column != "day" || rt.FilesDropped != 2 || rt.FilesRewritten != 1 {
			t.Errorf("monthly: %+v, want column day, 2 files dropped, 1 rewritten", rt)
		}
		if n := queryInt(t, l, "main", At{}, "SELECT count(DISTINCT day) FROM silver.monthly"); n != 30 {
			t.Errorf("monthly keeps %d days, want 30", n)
		}

		log, err := l.Store().Log(ctx, headOf(t, l, "main"), 3)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(log[0].Message, "retention: silver.monthly: delete rows with day < 2026-03-12") {
			t.Errorf("commit message %q", log[0].Message)
		}
		if !strings.HasPrefix(log[2].Message, "retention: bronze.by_day: delete rows with _ingested_at < 2026-03-12T00:00:00Z") {
			t.Errorf("commit message %q", log[2].Message)
		}

		// Again: nothing is old any more, so nothing is committed.
		head = headOf(t, l, "main")
		again, err := l.Retention(ctx, RetentionOptions{Policies: opts.Policies, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Tables) != 0 || again.Rows != 0 || headOf(t, l, "main") != head {
			t.Fatalf("second run: %+v, head moved: %v", again, headOf(t, l, "main") != head)
		}
		// One table only: the others are not looked at.
		one, err := l.Retention(ctx, RetentionOptions{Policies: opts.Policies, Now: now.Add(24 * time.Hour), Tables: []rat.TableID{flat}})
		if err != nil {
			t.Fatal(err)
		}
		if one.Checked != 1 || len(one.Tables) != 1 || one.Tables[0].Table != flat || one.Tables[0].Rows != 24 {
			t.Fatalf("retention of bronze.flat one day later: %+v", one)
		}
	})
}

func fileLocations(t *testing.T, l *Lake, id rat.TableID) []string {
	t.Helper()
	_, files, _ := currentFiles(t, l, id)
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Location
	}
	return out
}

// TestRetentionBadInput: each wrong setting is refused naming its key, and
// nothing is committed.
func TestRetentionBadInput(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	mustWrite(t, l, "main", "bronze.events", retentionRows(0, 3, false)+" UNION ALL SELECT 0, NULL, NULL", WriteOptions{})
	mustWrite(t, l, "main", "bronze.plain", "SELECT range AS id, 'x' AS name, TIMESTAMP '2026-01-01' + to_hours(range) AS bad FROM range(3)", WriteOptions{})
	mustWrite(t, l, "main", "bronze.plain2", "SELECT range AS id, 'x' AS name FROM range(3)", WriteOptions{})
	events := rat.TableID{Layer: "bronze", Name: "events"}
	plain2 := rat.TableID{Layer: "bronze", Name: "plain2"}
	head := headOf(t, l, "main")
	for _, c := range []struct {
		name   string
		policy RetentionPolicy
		tables []rat.TableID
		want   []string
	}{
		{"negative days", RetentionPolicy{Layer: "bronze", Days: -1, From: "workspace.yaml:4: layers.bronze.retention_days"},
			nil, []string{"workspace.yaml:4: layers.bronze.retention_days", "want 0 or more days, got -1"}},
		{"missing column", RetentionPolicy{Table: events, Days: 1, Column: "nope", ColumnFrom: "p.yaml:2: retention_column"},
			[]rat.TableID{events}, []string{"p.yaml:2: retention_column", `"nope" is not a column of bronze.events`, "_ingested_at"}},
		{"not a time", RetentionPolicy{Table: events, Days: 1, Column: "id", ColumnFrom: "p.yaml:2: retention_column"},
			[]rat.TableID{events}, []string{"p.yaml:2: retention_column", "column id of bronze.events is long", "want a date or timestamp column"}},
		{"no time column", RetentionPolicy{Table: plain2, Days: 1, From: "p.yaml:1: retention_days"},
			[]rat.TableID{plain2}, []string{"p.yaml:1: retention_days", "retention on a table without a usable time column", "bronze.plain2", "retention_column"}},
		{"no policy", RetentionPolicy{Table: events, Days: 1},
			[]rat.TableID{plain2}, []string{"bronze.plain2 has no retention", "layers.bronze.retention_days"}},
		{"no table", RetentionPolicy{Layer: "bronze", Days: 1},
			[]rat.TableID{{Layer: "bronze", Name: "nothere"}}, []string{"bronze.nothere is not on branch main"}},
	} {
		for _, dry := range []bool{true, false} {
			_, err := l.Retention(ctx, RetentionOptions{Policies: []RetentionPolicy{c.policy}, Tables: c.tables, DryRun: dry})
			if err == nil {
				t.Fatalf("%s: no error", c.name)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q lacks %q", c.name, err, w)
				}
			}
		}
	}
	if headOf(t, l, "main") != head {
		t.Fatal("a refused retention committed")
	}
	// A layer-wide policy reaches bronze.plain2 too, which has no time column.
	_, err := l.Retention(ctx, RetentionOptions{Policies: []RetentionPolicy{{Layer: "bronze", Days: 1, From: "workspace.yaml:4: layers.bronze.retention_days"}}})
	if err == nil || !strings.Contains(err.Error(), "workspace.yaml:4: layers.bronze.retention_days: retention on a table without a usable time column") {
		t.Fatalf("layer policy over a table without time: %v", err)
	}
}

// TestRetentionTimestampTZ: a timestamptz column partitioned by hour and
// a table partitioned by identity on a date, with a cutoff inside a day:
// what stays matches plain DuckDB, hours wholly before the cutoff are
// dropped without writing, and a date partition is old when its midnight
// is before the cutoff.
func TestRetentionTimestampTZ(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	src := `SELECT i::BIGINT AS id, TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_minutes(i * 20) AS _ingested_at,
		CAST(TIMESTAMP '2026-01-01' + to_minutes(i * 20) AS DATE) AS d FROM range(0, 3 * 24 * 5) r(i)` // 5 days, 3 rows an hour
	hourly := rat.TableID{Layer: "bronze", Name: "hourly"}
	daily := rat.TableID{Layer: "bronze", Name: "daily"}
	mustWrite(t, l, "main", hourly.String(), src, WriteOptions{PartitionBy: []Partition{{Column: "_ingested_at", Transform: "hour"}}})
	mustWrite(t, l, "main", daily.String(), "SELECT id, d FROM ("+src+")", WriteOptions{PartitionBy: []Partition{{Column: "d"}}})
	before := fileLocations(t, l, hourly)
	// Cutoff 2026-01-03 10:30 UTC.
	now := time.Date(2026, 1, 6, 10, 30, 0, 0, time.UTC)
	res, err := l.Retention(ctx, RetentionOptions{Policies: []RetentionPolicy{{Layer: "bronze", Days: 3}}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tables) != 2 {
		t.Fatalf("retention: %+v", res)
	}
	want := queryInt(t, l, "main", At{}, "SELECT count(*) FROM ("+src+") WHERE _ingested_at >= TIMESTAMPTZ '2026-01-03 10:30:00+00'")
	if got := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.hourly"); got != want {
		t.Errorf("hourly keeps %d rows, want %d", got, want)
	}
	// Hours 00..09 of each of the first two days and 00..09 of the third
	// are dropped whole; the 10:00 hour (10:00, 10:20, 10:40) is rewritten.
	h := res.Tables[1]
	if h.Table != hourly || h.FilesDropped != 24+24+10 || h.FilesRewritten != 1 || h.FilesWritten != 1 || h.Rows != 3*(24+24+10)+2 {
		t.Errorf("hourly: %+v", h)
	}
	after := fileLocations(t, l, hourly)
	fresh := 0
	for _, f := range after {
		if !slices.Contains(before, f) {
			fresh++
		}
	}
	if fresh != 1 || len(after) != len(before)-24-24-10 {
		t.Errorf("hourly: %d new files of %d (was %d): want the one rewritten hour only", fresh, len(after), len(before))
	}
	// Dates: Jan 1, 2 and 3 are before the cutoff (their midnight is).
	if got := queryInt(t, l, "main", At{}, "SELECT count(DISTINCT d) * 1000 + min(day(d)) FROM bronze.daily"); got != 2*1000+4 {
		t.Errorf("daily keeps %d (days*1000 + first day), want 2004", got)
	}
	if d := res.Tables[0]; d.Table != daily || d.FilesDropped != 3 || d.FilesRewritten != 0 {
		t.Errorf("daily: %+v", d)
	}
}

// TestRetentionConcurrentAppend: rows appended after retention planned its
// delete and before it commits are kept (the commit is replayed on top of
// the append), and the old rows still go.
func TestRetentionConcurrentAppend(t *testing.T) {
	l := newLocalLake(t)
	ctx := context.Background()
	id := rat.TableID{Layer: "bronze", Name: "busy"}
	for d := 0; d < 100; d += 10 {
		mustWrite(t, l, "main", id.String(), retentionRows(d, d+10, false), WriteOptions{})
	}
	now := time.Date(2026, 4, 11, 0, 0, 0, 0, time.UTC)
	plan, err := l.prepareRetention(ctx, "main", id, RetentionPolicy{Table: id, Days: 35}, now)
	if err != nil {
		t.Fatal(err)
	}
	// 35 days back is day 65: the file of days 60..69 is rewritten.
	mustWrite(t, l, "main", id.String(), "SELECT 1000000 + range AS id, TIMESTAMP '2026-04-10' AS _ingested_at, DATE '2026-04-10' AS day FROM range(7)", WriteOptions{})
	res, err := l.retainRetrying(ctx, "main", plan, now, false)
	if err != nil {
		t.Fatal(err)
	}
	// The conflicting attempt's file is deleted: every file in the
	// table's data folder is referenced.
	_, files, _ := currentFiles(t, l, id)
	tbl, _ := l.Load(ctx, "main", id)
	root, ok := l.objects.Key(strings.TrimSuffix(tbl.Location(), "/"))
	if !ok {
		t.Fatalf("table location %s outside the warehouse", tbl.Location())
	}
	stored, err := l.objects.List(ctx, root+"/data/")
	if err != nil {
		t.Fatal(err)
	}
	if want := 11 + 1; len(stored) != want {
		t.Errorf("data folder holds %d files, want the 11 written before and the 1 rewrite committed: %v (table has %d)", len(stored), stored, len(files))
	}
	if res.FilesDropped != 6 || res.FilesRewritten != 1 || res.Rows != 65*24 {
		t.Fatalf("retention: %+v", res)
	}
	if got := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.busy WHERE id >= 1000000"); got != 7 {
		t.Fatalf("%d of the 7 appended rows are left", got)
	}
	if got := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.busy WHERE _ingested_at < TIMESTAMP '2026-03-07'"); got != 0 {
		t.Fatalf("%d old rows left", got)
	}
	if got := queryInt(t, l, "main", At{}, "SELECT count(*) FROM bronze.busy"); got != 35*24+7 {
		t.Fatalf("%d rows, want %d", got, 35*24+7)
	}
}
