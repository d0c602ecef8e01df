-- 001_initial: accounts, rooms, events. Portable between SQLite and
-- PostgreSQL: TEXT, BIGINT, INTEGER (0/1 for booleans); no engine-specific
-- types. Table names follow Synapse's where the meaning is the same.

CREATE TABLE users (
  name TEXT PRIMARY KEY,              -- full user id
  password_hash TEXT,
  creation_ts BIGINT NOT NULL,
  admin INTEGER NOT NULL DEFAULT 0,
  deactivated INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE profiles (
  user_id TEXT PRIMARY KEY,
  displayname TEXT,
  avatar_url TEXT
);

CREATE TABLE devices (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  display_name TEXT,
  last_seen BIGINT,
  PRIMARY KEY (user_id, device_id)
);

-- Only a hash of each token is stored.
CREATE TABLE access_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_ts BIGINT NOT NULL
);
CREATE INDEX access_tokens_user ON access_tokens (user_id, device_id);

CREATE TABLE user_filters (
  user_id TEXT NOT NULL,
  filter_id BIGINT NOT NULL,
  filter_json TEXT NOT NULL,
  PRIMARY KEY (user_id, filter_id)
);

-- Nonces handed out by /_synapse/admin/v1/register.
CREATE TABLE registration_nonces (
  nonce TEXT PRIMARY KEY,
  created_ts BIGINT NOT NULL
);

CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY,
  room_version TEXT NOT NULL,
  creator TEXT NOT NULL,
  is_public INTEGER NOT NULL DEFAULT 0,
  created_ts BIGINT NOT NULL
);

CREATE TABLE room_aliases (
  room_alias TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  creator TEXT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- Every event, in events-stream order. `json` is the full signed event
-- (redacted in place once a redaction is persisted).
CREATE TABLE events (
  stream_ordering BIGINT PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT,
  sender TEXT NOT NULL,
  depth BIGINT NOT NULL,
  origin_server_ts BIGINT NOT NULL,
  membership TEXT,
  redacted_by TEXT,
  instance_name TEXT NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_state ON events (room_id, type, state_key, stream_ordering);

CREATE TABLE current_state_events (
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  membership TEXT,
  stream_ordering BIGINT NOT NULL,
  PRIMARY KEY (room_id, type, state_key)
);
CREATE INDEX current_state_members ON current_state_events (state_key, membership);

-- Each local user's current membership in each room they were ever in.
CREATE TABLE local_current_membership (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  membership TEXT NOT NULL,
  stream_ordering BIGINT NOT NULL,
  forgotten INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, room_id)
);
CREATE INDEX local_current_membership_stream ON local_current_membership (user_id, stream_ordering);

CREATE TABLE event_forward_extremities (
  room_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (room_id, event_id)
);

CREATE TABLE event_txn_id (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  inserted_ts BIGINT NOT NULL,
  PRIMARY KEY (user_id, device_id, room_id, txn_id)
);

-- How far each events writer has persisted (multi-writer streams, DESIGN.md).
CREATE TABLE stream_positions (
  stream_name TEXT NOT NULL,
  instance_name TEXT NOT NULL,
  stream_id BIGINT NOT NULL,
  PRIMARY KEY (stream_name, instance_name)
);
