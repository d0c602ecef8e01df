-- 015_ui_auth_session_data: what a user-interactive auth session remembers
-- between requests, as Synapse's ui_auth_sessions does: the request's
-- parameters (clientdict, JSON: a retry may send only the session) and the
-- server's own notes (serverdict, a JSON object: e.g. the password hash and
-- the user a registration created, so that a retried /register answers for
-- the same account).
ALTER TABLE ui_auth_sessions ADD COLUMN clientdict TEXT;
ALTER TABLE ui_auth_sessions ADD COLUMN serverdict TEXT;
