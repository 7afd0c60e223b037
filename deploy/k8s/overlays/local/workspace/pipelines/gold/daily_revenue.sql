-- @description: Revenue per day, returns excluded
SELECT CAST(updated_at AS DATE) AS day, count(*) AS orders, sum(amount) AS revenue
FROM {{ ref('silver.orders') }}
WHERE status <> 'returned'
GROUP BY ALL
ORDER BY day
