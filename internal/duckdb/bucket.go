package duckdb

import (
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/apache/iceberg-go"
	"github.com/duckdb/duckdb-go/v2"
)

// BucketFunction is rat's scalar function bucket(n, v): Iceberg's bucket
// transform (iceberg-go's) of v into n buckets, where v is what Iceberg
// hashes: a BIGINT (ints, dates as days, timestamps as microseconds) or a
// VARCHAR. NULL gives NULL. RegisterBucket makes it callable.
const BucketFunction = "rat_iceberg_bucket"

// RegisterBucket makes BucketFunction callable on conn's database.
func (d *DB) RegisterBucket(conn *sql.Conn) error {
	return d.registerUDF(conn, BucketFunction, bucketFunc{})
}

type bucketFunc struct{}

func (bucketFunc) Config() duckdb.ScalarFuncConfig {
	integer, _ := duckdb.NewTypeInfo(duckdb.TYPE_INTEGER)
	anything, _ := duckdb.NewTypeInfo(duckdb.TYPE_ANY)
	return duckdb.ScalarFuncConfig{
		InputTypeInfos: []duckdb.TypeInfo{integer, anything},
		ResultTypeInfo: integer,
	}
}

func (bucketFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(values []driver.Value) (any, error) {
		n, ok := values[0].(int32)
		if !ok || n <= 0 {
			return nil, fmt.Errorf("%s: the number of buckets must be an integer above 0, not %v", BucketFunction, values[0])
		}
		var lit iceberg.Literal
		switch v := values[1].(type) {
		case int64:
			lit = iceberg.Int64Literal(v)
		case string:
			lit = iceberg.StringLiteral(v)
		default:
			return nil, fmt.Errorf("%s: want a BIGINT or VARCHAR value, not %T", BucketFunction, values[1])
		}
		out := iceberg.BucketTransform{NumBuckets: int(n)}.Apply(iceberg.Optional[iceberg.Literal]{Valid: true, Val: lit})
		if !out.Valid {
			return nil, fmt.Errorf("%s: no bucket for %v", BucketFunction, values[1])
		}
		return int32(out.Val.(iceberg.Int32Literal)), nil
	}}
}
