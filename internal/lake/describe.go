package lake

import (
	"context"
	"strconv"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/duckdb"
)

// TableInfo describes a table at the head of a ref.
type TableInfo struct {
	Table           string         `json:"table"`
	Kind            string         `json:"kind"`          // table or view
	SQL             string         `json:"sql,omitempty"` // a view's definition
	Ref             string         `json:"ref"`
	Location        string         `json:"location"`
	Metadata        string         `json:"metadata"`
	UUID            string         `json:"uuid"`
	Format          int            `json:"format_version"`
	Columns         []ColumnInfo   `json:"columns"`
	Partition       string         `json:"partition"`
	PartitionSpecID int            `json:"partition_spec_id"` // the current spec's id: it grows when the partitioning evolves
	PartitionBy     string         `json:"partition_by"`      // the current spec as partition_by writes it: region, day(ts), bucket(16, id); "" when unpartitioned
	Snapshot        int64          `json:"snapshot_id,omitempty"`
	Rows            int64          `json:"rows"`
	DataFiles       int64          `json:"files"`
	Partitions      int64          `json:"partitions"` // distinct partitions among the data files (1 when unpartitioned)
	Bytes           int64          `json:"bytes"`
	Snapshots       []SnapshotInfo `json:"snapshots"`
	Files           []DataFile     `json:"data_files,omitempty"`
	LastCommit      string         `json:"last_commit"`
}

// ColumnInfo is one column of a table's current schema.
type ColumnInfo struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Doc      string `json:"doc,omitempty"`
}

// SnapshotInfo is one snapshot of a table.
type SnapshotInfo struct {
	ID        int64     `json:"id"`
	Parent    int64     `json:"parent,omitempty"`
	Time      time.Time `json:"time"`
	Operation string    `json:"operation"`
	Added     int64     `json:"added_rows"`
	Removed   int64     `json:"deleted_rows"`
	Rows      int64     `json:"total_rows"`
	Current   bool      `json:"current"`
}

// Describe gathers a table's schema, snapshots and files.
func (l *Lake) Describe(ctx context.Context, ref string, id rat.TableID, withFiles bool) (TableInfo, error) {
	e, err := l.store.Table(ctx, ref, id)
	if err != nil {
		if rat.IsCode(err, rat.ENOTFOUND) {
			return TableInfo{}, l.notFound(ctx, ref, id)
		}
		return TableInfo{}, err
	}
	if IsView(e.Metadata) {
		sql, err := l.ViewSQL(ctx, e.Metadata)
		if err != nil {
			return TableInfo{}, err
		}
		return TableInfo{Table: id.String(), Kind: "view", SQL: sql, Ref: ref, Metadata: e.Metadata, LastCommit: e.CommitID}, nil
	}
	tbl, err := l.Catalog(ref).Open(ctx, id, e.Metadata)
	if err != nil {
		return TableInfo{}, err
	}
	meta := tbl.Metadata()
	info := TableInfo{
		Table: id.String(), Kind: "table", Ref: ref, Location: meta.Location(), Metadata: e.Metadata,
		UUID: meta.TableUUID().String(), Format: meta.Version(), LastCommit: e.CommitID,
		Partition: meta.PartitionSpec().String(), PartitionSpecID: meta.DefaultPartitionSpec(),
		PartitionBy: partitionByText(meta.PartitionSpec(), meta.CurrentSchema()),
	}
	for _, f := range meta.CurrentSchema().Fields() {
		t, err := duckdb.TypeOf(f.Type)
		if err != nil {
			t = f.Type.String()
		}
		info.Columns = append(info.Columns, ColumnInfo{ID: f.ID, Name: f.Name, Type: t, Required: f.Required, Doc: f.Doc})
	}
	cur := meta.CurrentSnapshot()
	for _, s := range meta.Snapshots() {
		si := SnapshotInfo{ID: s.SnapshotID, Time: time.UnixMilli(s.TimestampMs).UTC(), Current: cur != nil && s.SnapshotID == cur.SnapshotID}
		if s.ParentSnapshotID != nil {
			si.Parent = *s.ParentSnapshotID
		}
		if s.Summary != nil {
			si.Operation = string(s.Summary.Operation)
			si.Added = summaryInt(s.Summary.Properties, "added-records")
			si.Removed = summaryInt(s.Summary.Properties, "deleted-records")
			si.Rows = summaryInt(s.Summary.Properties, "total-records")
		}
		info.Snapshots = append(info.Snapshots, si)
	}
	if cur != nil {
		info.Snapshot = cur.SnapshotID
		files, err := l.Files(ctx, tbl, cur)
		if err != nil {
			return TableInfo{}, err
		}
		parts := map[string]bool{}
		for _, f := range files {
			info.Rows += f.Records
			info.Bytes += f.Bytes
			parts[f.Partition] = true
		}
		info.Partitions = int64(len(parts))
		info.DataFiles = int64(len(files))
		if withFiles {
			info.Files = files
		}
	}
	return info, nil
}

// Summary is the short form `rat tables` prints, read from the current
// snapshot's summary without opening manifests.
type Summary struct {
	Table    string    `json:"table"`
	Kind     string    `json:"kind"` // table or view
	Rows     int64     `json:"rows"`
	Files    int64     `json:"files"`
	Bytes    int64     `json:"bytes"`
	Snapshot int64     `json:"snapshot_id,omitempty"`
	Updated  time.Time `json:"updated"`
}

// Summaries lists the tables of a ref with their sizes.
func (l *Lake) Summaries(ctx context.Context, ref string) ([]Summary, error) {
	entries, err := l.store.Tables(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(entries))
	for _, e := range entries {
		if IsView(e.Metadata) {
			out = append(out, Summary{Table: e.Table.String(), Kind: "view"})
			continue
		}
		meta, err := l.Catalog(ref).ReadMetadata(ctx, e.Metadata)
		if err != nil {
			return nil, err
		}
		s := Summary{Table: e.Table.String(), Kind: "table", Updated: time.UnixMilli(meta.LastUpdatedMillis()).UTC()}
		if cur := meta.CurrentSnapshot(); cur != nil {
			s.Snapshot = cur.SnapshotID
			if cur.Summary != nil {
				s.Rows = summaryInt(cur.Summary.Properties, "total-records")
				s.Files = summaryInt(cur.Summary.Properties, "total-data-files")
				s.Bytes = summaryInt(cur.Summary.Properties, "total-files-size")
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func summaryInt(p map[string]string, key string) int64 {
	n, _ := strconv.ParseInt(p[key], 10, 64)
	return n
}
