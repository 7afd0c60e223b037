SELECT * FROM {{ landing('stores') }}
