-- @name: test_basic_transformation
-- @description: Verify quantity * price = total_amount and text is uppercased
-- @mocks: mocks/bronze_sales.yaml, bronze_raw_stores.csv
-- @expect_count: 2

-- Expected: Only valid records (T001, T002), with uppercase text and calculated totals
-- Invalid records (T003) should be filtered out
