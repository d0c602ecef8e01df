-- 016_user_ips: where and with what each access token was last used
-- (Synapse's user_ips): one row per user, token and client address, with
-- the latest user agent and time. Written in batches by the HTTP layer
-- (actors/http/services.hpp, client_ips); GET /devices reads each device's
-- latest row, the whois API all of a user's rows. `access_token` holds the
-- token's hash, as access_tokens does.
CREATE TABLE user_ips (
  user_id TEXT NOT NULL,
  access_token TEXT NOT NULL,
  device_id TEXT,
  ip TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  last_seen BIGINT NOT NULL
);
CREATE UNIQUE INDEX user_ips_user_token_ip_unique_index ON user_ips (user_id, access_token, ip);
CREATE INDEX user_ips_device_id ON user_ips (user_id, device_id, last_seen);
CREATE INDEX user_ips_last_seen_only ON user_ips (last_seen);
