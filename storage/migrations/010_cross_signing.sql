-- 010_cross_signing: cross-signing keys and the signatures made with them
-- (Synapse's table names). Written only by the device_lists writer.

-- A user's current cross-signing key of each type ("master",
-- "self_signing", "user_signing"): the CrossSigningKey object as uploaded.
-- `stream_id` is the device_lists position of the upload.
CREATE TABLE e2e_cross_signing_keys (
  user_id TEXT NOT NULL,
  keytype TEXT NOT NULL,
  keydata TEXT NOT NULL,
  stream_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, keytype)
);

-- Signatures uploaded through /keys/signatures/upload: `user_id` signed,
-- with its key `key_id` ("ed25519:..."), the device `target_device_id` (a
-- device id, or the public key of a cross-signing key) of `target_user_id`.
CREATE TABLE e2e_cross_signing_signatures (
  user_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  target_user_id TEXT NOT NULL,
  target_device_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (user_id, key_id, target_user_id, target_device_id)
);
CREATE INDEX e2e_cross_signing_signatures_target
  ON e2e_cross_signing_signatures (target_user_id, target_device_id);
