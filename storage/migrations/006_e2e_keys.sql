-- 006_e2e_keys: end-to-end encryption keys and the device_lists stream
-- (Synapse's table names). Written only by the device_lists writer.

-- A device's identity keys as uploaded (the signed DeviceKeys object).
CREATE TABLE e2e_device_keys_json (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  ts_added_ms BIGINT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- One-time keys; a row is deleted when the key is claimed.
CREATE TABLE e2e_one_time_keys_json (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  ts_added_ms BIGINT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (user_id, device_id, algorithm, key_id)
);

-- One fallback key per (device, algorithm); `used` once it has been claimed.
CREATE TABLE e2e_fallback_keys_json (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  used INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, device_id, algorithm)
);

-- The device_lists stream: at `stream_id`, the devices of `user_id` changed
-- (`device_id` the device concerned, '' for several).
CREATE TABLE device_lists_stream (
  stream_id BIGINT NOT NULL,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL
);
CREATE INDEX device_lists_stream_id ON device_lists_stream (stream_id, user_id);
CREATE INDEX device_lists_stream_user ON device_lists_stream (user_id, stream_id);
