-- 013_ui_auth_sessions: user-interactive auth sessions (Synapse's
-- ui_auth_sessions), in the database so that a session begun through one
-- instance can be completed through another.
CREATE TABLE ui_auth_sessions (
  session_id TEXT NOT NULL PRIMARY KEY,
  creation_time BIGINT NOT NULL
);
CREATE TABLE ui_auth_sessions_credentials (
  session_id TEXT NOT NULL,
  stage_type TEXT NOT NULL,
  PRIMARY KEY (session_id, stage_type)
);
