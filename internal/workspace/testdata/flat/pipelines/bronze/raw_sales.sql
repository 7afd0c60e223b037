-- 🐀 Bronze: raw POS sales, as they land
-- @materialized: table
-- @owner: ingest-team

SELECT *, '{{ run_started_at }}' AS _ingested_at
FROM {{ landing('sales') }}
