-- 002_account_data: the account_data stream (global and per-room account
-- data, room tags as the `m.tag` room account data). One row per
-- (user, room, type); `stream_id` is the position of its last change.
CREATE TABLE account_data (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,           -- '' for global account data
  account_data_type TEXT NOT NULL,
  stream_id BIGINT NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (user_id, room_id, account_data_type)
);
CREATE INDEX account_data_stream ON account_data (user_id, stream_id);
