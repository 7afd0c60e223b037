-- @materialized: table
SELECT * FROM {{ source('sales') }}
