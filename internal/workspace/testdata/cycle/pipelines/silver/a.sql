-- @materialized: table
SELECT *
FROM {{ ref('silver.b') }}
JOIN {{ ref('bronze.raw') }} USING (id)
