-- 020_room_dag: rooms that federate. Their history is a DAG, so the state
-- at an event is no longer "the newest state event of each key before it
-- in the stream": each event gets the state group of the room's state after
-- it (Synapse's state_groups, stored as a delta against an earlier group,
-- or whole every 100 deltas and after a resolution). Group ids are the
-- stream position of the event that made the group (events stream
-- positions are unique across writers).
ALTER TABLE events ADD COLUMN state_group BIGINT;
-- 0: in the timeline. 1: part of the room's state as another server gave
-- it when we joined (send_join): readers see it as state, never in a
-- timeline, at a position before the join.
ALTER TABLE events ADD COLUMN outlier INTEGER NOT NULL DEFAULT 0;

CREATE TABLE state_groups_state (
  state_group BIGINT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (state_group, type, state_key)
);
-- A group stored as a delta names the group it is a delta of.
CREATE TABLE state_group_edges (
  state_group BIGINT PRIMARY KEY,
  prev_state_group BIGINT NOT NULL
);

-- Events known without a place in a timeline: the auth chains of events
-- other servers sent, and events refused (rejected: the reason) or
-- soft-failed (kept out of timelines and of prev_events, spec "Soft
-- failure"). A soft-failed event has a state group: later events may name
-- it as a prev event.
CREATE TABLE event_outliers (
  event_id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  json TEXT NOT NULL,
  rejected TEXT,
  soft_failed INTEGER NOT NULL DEFAULT 0,
  state_group BIGINT,
  received_ts BIGINT NOT NULL
);

-- Events of this server (and joins it vouches for) that other servers in
-- the room have not confirmed yet, per destination; the federation sender
-- sends them in order, at most 50 per transaction.
CREATE TABLE federation_pdu_outbox (
  destination TEXT NOT NULL,
  stream_ordering BIGINT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (destination, stream_ordering)
);
CREATE INDEX federation_pdu_outbox_stream ON federation_pdu_outbox (stream_ordering);
-- The newest of our events a destination has confirmed (Synapse's column;
-- the admin API lists it).
ALTER TABLE destinations ADD COLUMN last_successful_stream_ordering BIGINT;
