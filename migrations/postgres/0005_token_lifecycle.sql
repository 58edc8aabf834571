-- Token lifecycle: an optional expiry, revocation (rows are kept, so `token list` still
-- shows who had access and when it ended) and when each token was last used. Times are
-- RFC 3339 text, like created_at.
ALTER TABLE tokens ADD COLUMN expires_at TEXT;
ALTER TABLE tokens ADD COLUMN revoked_at TEXT;
ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
CREATE INDEX tokens_name ON tokens (name);
