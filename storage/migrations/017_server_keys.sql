-- 017_server_keys: other servers' signing keys, as fetched and checked
-- (matrix/server_keys.hpp), Synapse's two tables:
-- server_signature_keys holds each public key (base64) and until when it may
-- be used (a current key: its answer's valid_until_ts; an old key: its
-- expired_ts), from the server itself or from a notary; server_keys_json
-- keeps the whole signed answer each key came in, to serve again as a
-- notary (/_matrix/key/v2/query) with its signatures intact.
CREATE TABLE server_signature_keys (
  server_name TEXT NOT NULL,
  key_id TEXT NOT NULL,
  from_server TEXT NOT NULL,
  ts_added_ms BIGINT NOT NULL,
  ts_valid_until_ms BIGINT NOT NULL,
  verify_key TEXT NOT NULL,
  PRIMARY KEY (server_name, key_id)
);
CREATE TABLE server_keys_json (
  server_name TEXT NOT NULL,
  key_id TEXT NOT NULL,
  from_server TEXT NOT NULL,
  ts_added_ms BIGINT NOT NULL,
  ts_valid_until_ms BIGINT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (server_name, key_id, from_server)
);
