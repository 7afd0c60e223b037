-- @materialized: view
-- @description: Lifetime value per customer, always current
SELECT c.customer_id, c.name, c.country, count(o.order_id) AS orders, coalesce(sum(o.amount), 0) AS value
FROM {{ ref('silver.customers') }} c
LEFT JOIN {{ ref('silver.orders') }} o ON o.customer_id = c.customer_id
GROUP BY ALL
