-- 022_backfill: history fetched from other servers (/backfill) for clients
-- paginating past the start of what this server has. Backfilled events
-- take negative stream positions, each batch below the last (Synapse's
-- backfill stream), so a timeline read by position runs from the oldest
-- backfilled event to the newest event, while /sync, which reads forward
-- from positive positions, never shows them. They are in the timeline
-- (outlier 0) with a state group, never current state or extremities.
-- Where an event sits in the room's timeline, as /messages and /context
-- read it: its stream position, or for an event of the state given at our
-- join (outlier 1, state at a position before the join) met again in
-- backfilled history, its backfill position; NULL for join state not (yet)
-- in any timeline.
ALTER TABLE events ADD COLUMN timeline_ordering BIGINT;
UPDATE events SET timeline_ordering = stream_ordering WHERE outlier = 0;
CREATE INDEX events_room_timeline ON events (room_id, timeline_ordering);

CREATE TABLE events_backfill_seq (last_value BIGINT NOT NULL);
INSERT INTO events_backfill_seq (last_value) VALUES (0);

-- Redactions whose target was not known when they arrived: the target is
-- stored redacted when it comes (backfilled after its redaction, say).
-- by_power: the redaction's sender had the redact power level (else it
-- applies only to events from the sender's own server).
CREATE TABLE pending_redactions (
  redacts TEXT NOT NULL,
  event_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  by_power INTEGER NOT NULL,
  PRIMARY KEY (redacts, event_id)
);
CREATE INDEX pending_redactions_room ON pending_redactions (room_id);
