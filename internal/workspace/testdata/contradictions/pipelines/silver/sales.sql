-- @materialized: incremental
-- @unique_key: id
-- @owner: data-team
SELECT 1 AS id, 2 AS day
