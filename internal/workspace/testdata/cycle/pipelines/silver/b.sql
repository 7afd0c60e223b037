-- @materialized: incremental
SELECT * FROM {{ ref('bronze.raw') }}
{% if is_incremental() %}
UNION ALL SELECT * FROM {{ ref('silver.a') }}
{% endif %}
