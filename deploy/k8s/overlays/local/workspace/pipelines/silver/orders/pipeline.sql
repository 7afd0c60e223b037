-- @materialized: incremental
-- @unique_key: order_id
-- @watermark_column: updated_at
SELECT order_id, customer_id, status, CAST(amount AS DECIMAL(12, 2)) AS amount, updated_at
FROM {{ ref('bronze.raw_orders') }}
{% if is_incremental() %}
WHERE updated_at > '{{ watermark("updated_at") }}'
{% endif %}
