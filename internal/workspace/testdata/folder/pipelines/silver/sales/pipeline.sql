-- 🐀 Silver: Cleaned Sales
-- Validates and enriches raw POS transactions
--
-- @name: silver_sales
-- @materialized: incremental
-- @unique_key: txn_id
-- @partition_by: _date
-- @owner: data-team

SELECT
    txn_id,
    s.store_id,
    st.store_name,
    UPPER(category) AS category,
    quantity,
    unit_price,
    ROUND(quantity * unit_price, 2) AS total_amount,
    '{{ var('currency') }}' AS currency,
    CAST(transaction_time AS DATE) AS _date,
    s._ingested_at
FROM {{ ref('bronze.raw_sales') }} s
JOIN {{ ref('bronze_raw_stores') }} st USING (store_id)
WHERE quantity > 0
  AND unit_price > 0
  AND txn_id IS NOT NULL
{% if is_incremental() %}
  AND s._ingested_at > '{{ watermark("_ingested_at") }}'
{% endif %}
