-- Configuration records: one JSON document per record, beside the values lists filter on.
CREATE TABLE config_records (
    kind        TEXT    NOT NULL,
    id          BIGINT  NOT NULL,
    name        TEXT,
    status      TEXT,
    role        TEXT,
    owner_id    BIGINT,
    ref_id      BIGINT,
    position    BIGINT,
    unique_key  TEXT,
    doc         TEXT    NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE UNIQUE INDEX config_records_unique ON config_records (kind, unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX config_records_owner ON config_records (kind, owner_id);
CREATE INDEX config_records_ref ON config_records (kind, ref_id);

-- Ids are handed out from here so that a deleted record's id is never reused.
CREATE TABLE config_sequences (
    kind    TEXT   PRIMARY KEY,
    last_id BIGINT NOT NULL
);

-- Conversions: the document beside what lists filter on and reports sum.
CREATE TABLE conversions (
    id           BIGSERIAL PRIMARY KEY,
    offer_id     BIGINT  NOT NULL,
    affiliate_id BIGINT  NOT NULL,
    status       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,  -- unix milliseconds
    txid         TEXT,
    doc          TEXT    NOT NULL,
    is_lead      BOOLEAN NOT NULL,
    payout       BIGINT  NOT NULL,  -- 10^-8 of the currency unit
    revenue      BIGINT  NOT NULL,
    source_id    TEXT    NOT NULL,
    country      TEXT    NOT NULL,
    device_type  TEXT    NOT NULL,
    os           TEXT    NOT NULL,
    sub1         TEXT    NOT NULL,
    sub2         TEXT    NOT NULL,
    sub3         TEXT    NOT NULL,
    sub4         TEXT    NOT NULL,
    sub5         TEXT    NOT NULL
);
CREATE UNIQUE INDEX conversions_txid ON conversions (offer_id, txid) WHERE txid IS NOT NULL;
CREATE INDEX conversions_created ON conversions (created_at);
CREATE INDEX conversions_offer ON conversions (offer_id, affiliate_id, created_at);
CREATE INDEX conversions_affiliate ON conversions (affiliate_id, created_at);

-- The outbox: jobs written in the same transaction as what causes them, claimed by any node.
CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'queued',  -- queued, delivered, failed
    run_at          BIGINT  NOT NULL,                   -- unix milliseconds
    locked_until    BIGINT  NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX jobs_due ON jobs (kind, run_at, id) WHERE state = 'queued';

CREATE TABLE job_attempts (
    id         BIGSERIAL PRIMARY KEY,
    job_id     BIGINT  NOT NULL,
    subject    TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    url        TEXT    NOT NULL,
    status     INTEGER,
    latency_ms BIGINT  NOT NULL,
    outcome    TEXT    NOT NULL,
    detail     TEXT    NOT NULL
);
CREATE INDEX job_attempts_subject ON job_attempts (subject, id);

-- Panel sessions (when no Redis holds them), by the SHA-256 of their cookie's secret.
CREATE TABLE sessions (
    id          TEXT   PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    csrf        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,  -- unix milliseconds
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Conversions per UTC hour and day, kept in the transaction of every conversion and status
-- change: reports by offer and affiliate read these instead of the conversions.
CREATE TABLE conversion_rollups (
    grain        INTEGER        NOT NULL,  -- seconds a row spans: 3600 or 86400
    bucket       BIGINT         NOT NULL,  -- unix seconds of its start
    offer_id     BIGINT         NOT NULL,
    affiliate_id BIGINT         NOT NULL,
    status       TEXT           NOT NULL,
    is_lead      BOOLEAN        NOT NULL,
    conversions  BIGINT         NOT NULL,
    payout       NUMERIC(38, 0) NOT NULL,  -- 10^-8 of the currency unit
    revenue      NUMERIC(38, 0) NOT NULL,
    PRIMARY KEY (grain, bucket, offer_id, affiliate_id, status, is_lead)
);
