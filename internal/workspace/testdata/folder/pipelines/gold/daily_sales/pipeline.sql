-- @name: gold_daily_sales
-- @materialized: table
-- @tags: finance
SELECT _date AS sale_date, store_id, SUM(total_amount) AS revenue
FROM {{ ref('silver.sales') }}
GROUP BY 1, 2
