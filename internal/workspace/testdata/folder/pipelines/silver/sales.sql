-- an older flat copy: the folder silver/sales/ wins over it
SELECT 1 AS txn_id
