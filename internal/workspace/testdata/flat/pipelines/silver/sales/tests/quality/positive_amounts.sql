-- @name: positive_amounts
-- @description: every sale has a positive amount
-- @severity: warn

SELECT * FROM {{ this }} WHERE total_amount <= 0
