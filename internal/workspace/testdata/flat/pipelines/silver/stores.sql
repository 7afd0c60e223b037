-- @materialized: view
SELECT DISTINCT store_id FROM {{ ref('bronze', 'raw_sales') }}
