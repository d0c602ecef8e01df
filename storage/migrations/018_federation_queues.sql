-- 018_federation_queues: what federation must not lose, in Synapse's tables.
-- device_federation_outbox holds to-device messages for other servers'
-- users until their server has them (one m.direct_to_device EDU per
-- request and destination, at the request's to_device position);
-- destinations keeps each server's retry state across restarts;
-- received_transactions answers a retried PUT /send/{txnId} as the first
-- time (kept a day).
CREATE TABLE device_federation_outbox (
  destination TEXT NOT NULL,
  stream_id BIGINT NOT NULL,
  message_id TEXT NOT NULL,
  queued_ts BIGINT NOT NULL,
  messages_json TEXT NOT NULL,
  PRIMARY KEY (destination, stream_id)
);
CREATE TABLE destinations (
  destination TEXT PRIMARY KEY,
  retry_last_ts BIGINT NOT NULL DEFAULT 0,
  retry_interval BIGINT NOT NULL DEFAULT 0,
  failure_ts BIGINT
);
CREATE TABLE received_transactions (
  transaction_id TEXT NOT NULL,
  origin TEXT NOT NULL,
  ts BIGINT NOT NULL,
  response_code INTEGER NOT NULL,
  response_json TEXT NOT NULL,
  PRIMARY KEY (transaction_id, origin)
);
CREATE INDEX received_transactions_ts ON received_transactions (ts);
