package rat

import "fmt"

// Partition is one field of a table's partitioning: a column and an
// Iceberg transform (identity, year, month, day, hour, bucket, truncate).
type Partition struct {
	Column    string
	Transform string // identity ("" too), year, month, day, hour, bucket or truncate
	Param     int    // bucket's number of buckets, truncate's width
}

// String writes the partition the way partition_by takes it: col,
// day(col), bucket(16, col).
func (p Partition) String() string {
	switch p.Transform {
	case "identity", "":
		return p.Column
	case "bucket", "truncate":
		return fmt.Sprintf("%s(%d, %s)", p.Transform, p.Param, p.Column)
	}
	return p.Transform + "(" + p.Column + ")"
}
