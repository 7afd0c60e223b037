-- @materialized: table
-- @owner: data-team

SELECT *
FROM {{ ref('bronze.raw_sale') }}
