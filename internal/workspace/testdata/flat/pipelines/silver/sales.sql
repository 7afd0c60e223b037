-- 🐀 Silver Sales Pipeline
-- Cleans and validates raw sales data from bronze layer
--
-- @name: silver_sales
-- @materialized: incremental
-- @unique_key: txn_id
-- @partition_by: day(transaction_time)
-- @owner: data-team

SELECT
    txn_id,
    store_id,
    quantity,
    unit_price,
    quantity * unit_price AS total_amount,
    transaction_time
FROM {{ ref('bronze.raw_sales') }}
WHERE quantity > {{ var('min_quantity') }}
{% if is_incremental() %}
  AND transaction_time > '{{ watermark("transaction_time") }}'
{% endif %}
