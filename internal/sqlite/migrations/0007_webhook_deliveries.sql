-- Webhook deliveries received, so that a replay is refused by every serve
-- replica, not only the one that took the delivery. Rows older than the
-- replay window are deleted as new ones arrive.
CREATE TABLE webhook_deliveries (
	id          TEXT   NOT NULL PRIMARY KEY,
	received_us BIGINT NOT NULL
);
