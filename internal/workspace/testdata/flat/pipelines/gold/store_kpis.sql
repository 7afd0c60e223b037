-- @materialized: incremental
-- @merge_strategy: delete_insert
-- @partition_by: month(sale_date)

SELECT sale_date, store_id, SUM(total_revenue) AS revenue
FROM {{ ref('gold_daily_sales') }}
{% if is_incremental() %}
WHERE sale_date NOT IN (SELECT sale_date FROM {{ ref('silver_sales') }} LIMIT 0)
{% endif %}
GROUP BY 1, 2
