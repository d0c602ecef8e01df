-- 023_state_deltas: where a room's state stopped following its timeline.
-- A room that only grows at its tip has "the newest state event of each
-- key at or before p" as its state at position p. When an event from
-- another server does not build on the tip, the writer resolves the forks
-- (state resolution v2): the event may lose its key to an older event, and
-- other keys may change with it. Each key the resolution settled is kept
-- here at the position of the event that caused it (event_id '' where the
-- key left the state), so readers of past state (sync, /members?at, the
-- history-visibility view) take for each key the newer of its timeline
-- event and its delta, the delta winning at the same position (Synapse's
-- current_state_delta_stream serves the same readers).
CREATE TABLE room_state_deltas (
  room_id TEXT NOT NULL,
  stream_ordering BIGINT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (room_id, type, state_key, stream_ordering)
);
CREATE INDEX room_state_deltas_room ON room_state_deltas (room_id, stream_ordering);
