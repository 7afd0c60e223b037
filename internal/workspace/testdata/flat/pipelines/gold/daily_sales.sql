-- 🐀 Gold: Daily Sales KPIs
--
-- @name: gold_daily_sales
-- @materialized: table
-- @partition_by: sale_date
-- @owner: analytics-team
-- @tags: finance, daily

SELECT
    CAST(transaction_time AS DATE) AS sale_date,
    store_id,
    COUNT(*) AS total_transactions,
    SUM(total_amount) AS total_revenue
FROM {{ ref('silver.sales') }}
GROUP BY 1, 2
