-- @materialized: incremental
-- @description: Order exports; each new file in landing/orders is appended once
SELECT * FROM {{ landing('orders') }}
