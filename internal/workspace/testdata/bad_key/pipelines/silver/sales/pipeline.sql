SELECT 1 AS txn_id
