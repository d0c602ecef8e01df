-- 012_push_actions: what each event means for each local user's
-- notifications (Synapse's event_push_actions), written by the events writer
-- in the same transaction as the event, so unread counts never lag the
-- events stream. Only events that notify or highlight get a row.
CREATE TABLE event_push_actions (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  stream_ordering BIGINT NOT NULL,
  thread_id TEXT NOT NULL,         -- 'main', or the thread's root event id
  notif INTEGER NOT NULL,          -- 1: counts in notification_count
  highlight INTEGER NOT NULL,      -- 1: counts in highlight_count
  actions TEXT NOT NULL,           -- the matching rule's actions (JSON array)
  ts BIGINT NOT NULL,              -- when the event was received
  PRIMARY KEY (user_id, stream_ordering)
);
CREATE INDEX event_push_actions_room ON event_push_actions (user_id, room_id, stream_ordering);

-- A receipt's event position, so counting unread notifications needs no
-- lookup of the event, and a receipt never moves backwards.
ALTER TABLE receipts ADD COLUMN event_stream_ordering BIGINT NOT NULL DEFAULT 0;
UPDATE receipts SET event_stream_ordering = COALESCE(
  (SELECT stream_ordering FROM events WHERE events.event_id = receipts.event_id), 0);
