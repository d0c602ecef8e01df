-- 009_push_rules: the push_rules stream. One row per user holding the user's
-- stored push rules as one JSON document (custom rules per kind in priority
-- order, overrides of server-default rules' enabled flag and actions), so
-- every change is a single atomic upsert; `stream_id` is the position of the
-- user's last change.
CREATE TABLE push_rules_user (
  user_id TEXT NOT NULL PRIMARY KEY,
  rules_json TEXT NOT NULL,
  stream_id BIGINT NOT NULL
);
CREATE INDEX push_rules_user_stream ON push_rules_user (stream_id);
