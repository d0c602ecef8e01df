-- 011_room_keys: server-side key backups (/room_keys), as Synapse's tables.
-- A user's versions are numbered 1, 2, ... and never reused; the current
-- backup is the newest one not deleted. `etag` changes whenever its keys do.
CREATE TABLE e2e_room_keys_versions (
  user_id TEXT NOT NULL,
  version BIGINT NOT NULL,
  algorithm TEXT NOT NULL,
  auth_data TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  etag BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, version)
);
CREATE TABLE e2e_room_keys (
  user_id TEXT NOT NULL,
  version BIGINT NOT NULL,
  room_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  first_message_index BIGINT NOT NULL,
  forwarded_count BIGINT NOT NULL,
  is_verified INTEGER NOT NULL,
  session_data TEXT NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id)
);
-- One row per user with a backup; every write to the user's backups first
-- updates it, which serializes them (a row lock on PostgreSQL, where two
-- uploads would otherwise both insert a session or pick the same version;
-- SQLite's BEGIN IMMEDIATE already serializes writers).
CREATE TABLE e2e_room_keys_locks (
  user_id TEXT NOT NULL PRIMARY KEY,
  writes BIGINT NOT NULL DEFAULT 0
);
