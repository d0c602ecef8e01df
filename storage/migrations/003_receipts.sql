-- 003_receipts: the receipts stream. One row per (room, receipt type, user,
-- thread): a new receipt replaces the previous one. `stream_id` is the
-- position of its last change; `data` the receipt's JSON object ({"ts":...}).
CREATE TABLE receipts (
  room_id TEXT NOT NULL,
  receipt_type TEXT NOT NULL,
  user_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,         -- '' for unthreaded receipts
  event_id TEXT NOT NULL,
  data TEXT NOT NULL,
  stream_id BIGINT NOT NULL,
  PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_stream ON receipts (stream_id);
