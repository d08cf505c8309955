-- Conversions: the document beside the values lists filter on.
CREATE TABLE conversions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    offer_id     INTEGER NOT NULL,
    affiliate_id INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,  -- unix milliseconds
    txid         TEXT,
    doc          TEXT    NOT NULL
);
CREATE UNIQUE INDEX conversions_txid ON conversions (offer_id, txid) WHERE txid IS NOT NULL;
CREATE INDEX conversions_created ON conversions (created_at);
CREATE INDEX conversions_offer ON conversions (offer_id, affiliate_id, created_at);

-- The outbox: jobs written in the same transaction as what causes them.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'queued',  -- queued, delivered, failed
    run_at          INTEGER NOT NULL,                   -- unix milliseconds
    locked_until    INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs (kind, state, run_at);

CREATE TABLE job_attempts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id     INTEGER NOT NULL,
    subject    TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    url        TEXT    NOT NULL,
    status     INTEGER,
    latency_ms INTEGER NOT NULL,
    outcome    TEXT    NOT NULL,
    detail     TEXT    NOT NULL
);
CREATE INDEX job_attempts_subject ON job_attempts (subject, id);
