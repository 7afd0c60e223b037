-- @description: Customers as exported, every file of landing/customers
SELECT * FROM {{ landing('customers') }}
