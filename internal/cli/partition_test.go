package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestLayerPartitionDescribe: a layer's list partition_by in workspace.yaml
// partitions the table a pipeline builds; rat describe shows the spec, and
// a change of the setting shows as a new spec id.
func TestLayerPartitionDescribe(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: parts\nlayers:\n  silver:\n    partition_by: [region, day(ts), bucket(4, id)]\n")
		u.write("events.csv", "id,region,ts,amount\n1,north,2024-01-01 10:00:00,10\n2,south,2024-01-01 11:00:00,20\n3,north,2024-01-02 09:00:00,5\n4,east,2024-01-03 08:00:00,7\n")
		u.ok("load", "events.csv", "--into", "bronze.events")
		u.write("pipelines/silver/events.sql", "SELECT id, region, CAST(ts AS TIMESTAMP) AS ts, amount FROM {{ ref('bronze.events') }}\n")
		u.ok("run")
		out := u.ok("describe", "silver.events")
		if !strings.Contains(out, "partition region, day(ts), bucket(4, id) (spec 0)") {
			t.Fatalf("describe:\n%s", out)
		}
		var info struct {
			SpecID     int   `json:"partition_spec_id"`
			Files      int64 `json:"files"`
			Partitions int64 `json:"partitions"`
		}
		if err := json.Unmarshal([]byte(u.ok("describe", "silver.events", "--json")), &info); err != nil {
			t.Fatal(err)
		}
		if info.Files != 4 || info.Partitions != 4 {
			t.Fatalf("files %d in %d partitions, want 4 in 4", info.Files, info.Partitions)
		}
		if got := u.ok("query", "SELECT sum(amount) AS s FROM silver.events WHERE region = 'north'", "--format", "csv"); got != "s\n15\n" {
			t.Fatalf("query: %q", got)
		}
		u.write("workspace.yaml", "name: parts\nlayers:\n  silver:\n    partition_by: month(ts)\n")
		u.ok("run")
		if out := u.ok("describe", "silver.events"); !strings.Contains(out, "partition month(ts) (spec 1)") {
			t.Fatalf("describe after the change:\n%s", out)
		}
		u.write("workspace.yaml", "name: parts\nlayers:\n  silver:\n    partition_by: [bucket(4, id), weekday(ts)]\n")
		u.fails(`workspace.yaml:4: layers.silver.partition_by: partition "weekday(ts)": transform "weekday" is not one Iceberg defines`, "run")
	})
}
