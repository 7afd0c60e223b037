-- @name: no_negative_amounts
-- @severity: error
SELECT * FROM {{ this }} WHERE amount < 0
