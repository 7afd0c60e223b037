-- @description: every sale is in a store bronze knows
SELECT s.* FROM {{ this }} s
LEFT JOIN {{ ref('bronze.raw_stores') }} st USING (store_id)
WHERE st.store_id IS NULL
