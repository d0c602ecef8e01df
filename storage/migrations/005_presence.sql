-- 005_presence: the presence stream (Synapse's `presence_stream` table). One
-- row per local user: the state last persisted by the presence writer, which
-- persists every change clients are told about; `stream_id` is the position
-- of that change. Timestamps are milliseconds since the epoch, 0 for never.
CREATE TABLE presence_stream (
  user_id TEXT NOT NULL PRIMARY KEY,
  state TEXT NOT NULL,              -- online, unavailable, offline
  status_msg TEXT NOT NULL,         -- '' for none
  last_active_ts BIGINT NOT NULL,
  last_user_sync_ts BIGINT NOT NULL,
  currently_active INTEGER NOT NULL, -- 0 or 1
  stream_id BIGINT NOT NULL
);
CREATE INDEX presence_stream_id ON presence_stream (stream_id);
