-- 004_to_device: the to_device stream (send-to-device messages). A message
-- waits in its recipient device's inbox until the device acknowledges it by
-- syncing with a token past its stream_id, then it is deleted. All messages of
-- one request share one stream_id; a device gets at most one of them.
CREATE TABLE device_inbox (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  stream_id BIGINT NOT NULL,
  message_json TEXT NOT NULL,       -- the event as delivered: {sender, type, content}
  PRIMARY KEY (user_id, device_id, stream_id)
);

-- Transaction ids of PUT /sendToDevice, per sending device: a retried
-- request answers with the first one's position and delivers nothing again.
CREATE TABLE device_inbox_txn_id (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  stream_id BIGINT NOT NULL,
  inserted_ts BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);
