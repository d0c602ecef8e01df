-- 026_push_summary: unread counts already worked out (Synapse's
-- event_push_summary), so that a /sync of a user with many unread
-- notifications in a room counts only those after them. A row holds, per
-- thread, the user's unread notifications and highlights in the room up to
-- the room position `upto`, as the user's read receipts in the room stood
-- then: `receipts_rows` of them whose event positions added up to
-- `receipts_sum`. Receipts are never deleted and never move backwards, so
-- the two are unchanged exactly when no receipt moved; when one did, the row
-- is stale and the counts are made again from event_push_actions. Written
-- by the readers (push_actions_store::unread) when a count read many rows.
CREATE TABLE event_push_summary (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  receipts_rows BIGINT NOT NULL,
  receipts_sum BIGINT NOT NULL,
  upto BIGINT NOT NULL,
  counts TEXT NOT NULL,            -- JSON: {"<thread>": [notifications, highlights], ...}
  PRIMARY KEY (user_id, room_id)
);
