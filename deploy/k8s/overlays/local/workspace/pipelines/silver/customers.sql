-- @description: Customers, one row each, with clean country codes
SELECT customer_id, name, upper(country) AS country, CAST(signed_up AS DATE) AS signed_up
FROM {{ ref('bronze.raw_customers') }}
