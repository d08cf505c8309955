-- Panel sessions, by the SHA-256 of the secret in their cookie (never the secret itself).
CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    csrf        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,  -- unix milliseconds
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
