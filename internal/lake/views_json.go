package lake

import (
	"encoding/json"
)

// A view has no snapshots, files or stored rows: its SQL runs when it is
// read. Its JSON leaves those keys out rather than claim 0 rows.

// MarshalJSON writes a table's summary; a view's has no sizes.
func (s Summary) MarshalJSON() ([]byte, error) {
	if s.Kind == "view" {
		return json.Marshal(struct {
			Table string `json:"table"`
			Kind  string `json:"kind"`
		}{s.Table, s.Kind})
	}
	type plain Summary
	return json.Marshal(plain(s))
}

// MarshalJSON writes a table's description; a view's is its SQL.
func (t TableInfo) MarshalJSON() ([]byte, error) {
	if t.Kind == "view" {
		return json.Marshal(struct {
			Table      string `json:"table"`
			Kind       string `json:"kind"`
			SQL        string `json:"sql"`
			Ref        string `json:"ref"`
			Metadata   string `json:"metadata"`
			LastCommit string `json:"last_commit"`
		}{t.Table, t.Kind, t.SQL, t.Ref, t.Metadata, t.LastCommit})
	}
	type plain TableInfo
	return json.Marshal(plain(t))
}

// MarshalJSON writes a difference; a view's has no row counts.
func (d TableDiff) MarshalJSON() ([]byte, error) {
	if d.Kind == "view" {
		return json.Marshal(struct {
			Table    string `json:"table"`
			Kind     string `json:"kind"`
			Change   string `json:"change"`
			Metadata string `json:"metadata,omitempty"`
		}{d.Table, d.Kind, d.Change, d.Metadata})
	}
	type plain TableDiff
	return json.Marshal(plain(d))
}
