-- 019_openid: OpenID tokens (POST /user/{userId}/openid/request_token), which
-- a third party checks with GET /_matrix/federation/v1/openid/userinfo;
-- Synapse's open_id_tokens.
CREATE TABLE open_id_tokens (
  token TEXT PRIMARY KEY,
  ts_valid_until_ms BIGINT NOT NULL,
  user_id TEXT NOT NULL
);
CREATE INDEX open_id_tokens_valid ON open_id_tokens (ts_valid_until_ms);
