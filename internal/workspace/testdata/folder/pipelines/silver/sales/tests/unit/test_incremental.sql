-- @name: test_incremental_load
-- @mode: incremental
-- @watermarks: {_ingested_at: "2024-01-15 12:00:00"}
-- @mocks: late_sales.json, bronze_raw_stores.csv

SELECT 'T009' AS txn_id, {{ var('expected_total', 4.5) }} AS total_amount
