-- Raw clicks: one row each, kept for the retention period (converted ones forever).
CREATE TABLE clicks (
    id              BLOB    NOT NULL,  -- 16 bytes, time-ordered: ranges by id are ranges by time
    ts              INTEGER NOT NULL,  -- unix milliseconds
    offer_id        INTEGER NOT NULL,
    affiliate_id    INTEGER NOT NULL,
    error_code      INTEGER NOT NULL,
    is_unique       INTEGER NOT NULL,
    is_robot        INTEGER NOT NULL,
    is_filter       INTEGER NOT NULL,
    converted       INTEGER NOT NULL DEFAULT 0,
    unique_key      INTEGER NOT NULL,
    source_id       TEXT    NOT NULL,
    campaign        TEXT    NOT NULL,
    sub1            TEXT    NOT NULL,
    sub2            TEXT    NOT NULL,
    sub3            TEXT    NOT NULL,
    sub4            TEXT    NOT NULL,
    sub5            TEXT    NOT NULL,
    coupon_code     TEXT    NOT NULL,
    creative_id     INTEGER,
    url_id          INTEGER,
    deep_link       TEXT    NOT NULL,
    ip              TEXT    NOT NULL,
    user_agent      TEXT    NOT NULL,
    referer         TEXT    NOT NULL,
    accept_language TEXT    NOT NULL,
    language        TEXT    NOT NULL,
    country         TEXT    NOT NULL,
    region          TEXT    NOT NULL,
    city            TEXT    NOT NULL,
    isp             TEXT    NOT NULL,
    carrier         TEXT    NOT NULL,
    organization    TEXT    NOT NULL,
    connection_type TEXT    NOT NULL,
    device_type     TEXT    NOT NULL,
    os              TEXT    NOT NULL,
    os_name         TEXT    NOT NULL,
    os_version      TEXT    NOT NULL,
    browser         TEXT    NOT NULL,
    browser_version TEXT    NOT NULL,
    brand           TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    is_mobile       INTEGER NOT NULL,
    is_tablet       INTEGER NOT NULL,
    idfa            TEXT    NOT NULL,
    google_ad_id    TEXT    NOT NULL,
    android_id      TEXT    NOT NULL,
    query           TEXT    NOT NULL,  -- JSON array of [name, value] pairs
    payout          INTEGER NOT NULL,  -- 10^-8 of the currency unit
    revenue         INTEGER NOT NULL
);
CREATE UNIQUE INDEX clicks_id ON clicks (id);

-- Raw impressions.
CREATE TABLE impressions (
    ts              INTEGER NOT NULL,
    offer_id        INTEGER NOT NULL,
    affiliate_id    INTEGER NOT NULL,
    error_code      INTEGER NOT NULL,
    creative_id     INTEGER,
    source_id       TEXT    NOT NULL,
    sub1            TEXT    NOT NULL,
    sub2            TEXT    NOT NULL,
    sub3            TEXT    NOT NULL,
    sub4            TEXT    NOT NULL,
    sub5            TEXT    NOT NULL,
    ip              TEXT    NOT NULL,
    country         TEXT    NOT NULL,
    device_type     TEXT    NOT NULL,
    os              TEXT    NOT NULL,
    payout          INTEGER NOT NULL,  -- 10^-8 of the currency unit (cpm / 1000)
    revenue         INTEGER NOT NULL
);
CREATE INDEX impressions_ts ON impressions (ts);

-- 15-minute UTC rollups, kept forever.
CREATE TABLE rollup_clicks (
    bucket        INTEGER NOT NULL,  -- unix seconds of the bucket start
    offer_id      INTEGER NOT NULL,
    affiliate_id  INTEGER NOT NULL,
    source_id     TEXT    NOT NULL,
    country       TEXT    NOT NULL,
    device_type   TEXT    NOT NULL,
    os            TEXT    NOT NULL,
    impressions   INTEGER NOT NULL DEFAULT 0,
    clicks        INTEGER NOT NULL DEFAULT 0,
    unique_clicks INTEGER NOT NULL DEFAULT 0,
    accepted      INTEGER NOT NULL DEFAULT 0,
    rejected      INTEGER NOT NULL DEFAULT 0,
    filtered      INTEGER NOT NULL DEFAULT 0,
    payout        INTEGER NOT NULL DEFAULT 0,  -- 10^-8 of the currency unit
    revenue       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, offer_id, affiliate_id, source_id, country, device_type, os)
) WITHOUT ROWID;
