-- Coarse rollups, folded from the 15-minute rollups and raw events once a quarter hour is over
-- (see `rollup_marks`); events that arrive for a folded quarter are added to them directly.

-- By offer and affiliate, per UTC hour and per UTC day.
CREATE TABLE rollup_offer_hours (
    bucket        INTEGER NOT NULL,  -- unix seconds of the hour
    offer_id      INTEGER NOT NULL,
    affiliate_id  INTEGER NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,  -- 10^-8 of the currency unit
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (bucket, offer_id, affiliate_id)
) WITHOUT ROWID;

CREATE TABLE rollup_offer_days (
    bucket        INTEGER NOT NULL,  -- unix seconds of the UTC day
    offer_id      INTEGER NOT NULL,
    affiliate_id  INTEGER NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (bucket, offer_id, affiliate_id)
) WITHOUT ROWID;

-- The key of `rollup_clicks`, per UTC day.
CREATE TABLE rollup_days (
    bucket        INTEGER NOT NULL,
    offer_id      INTEGER NOT NULL,
    affiliate_id  INTEGER NOT NULL,
    source_id     TEXT    NOT NULL,
    country       TEXT    NOT NULL,
    device_type   TEXT    NOT NULL,
    os            TEXT    NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (bucket, offer_id, affiliate_id, source_id, country, device_type, os)
) WITHOUT ROWID;

-- By offer, affiliate and the value of one more field, per UTC day: a report on one field
-- (sub-ids, source, country, device or OS) reads a table no larger than that field's values.
-- Sub-id values are many, so this is their only grain; finer stretches are read raw (the others
-- read finer stretches from `rollup_clicks`). Sub-ids are folded from raw events, the others
-- from `rollup_clicks`, so they outlive raw retention as the rest of the rollups do.
CREATE TABLE rollup_field_days (
    field         INTEGER NOT NULL,  -- 1-5 sub1-sub5, 6 source_id, 7 country, 8 device_type, 9 os
    bucket        INTEGER NOT NULL,
    affiliate_id  INTEGER NOT NULL,
    offer_id      INTEGER NOT NULL,
    value         TEXT    NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (field, bucket, affiliate_id, offer_id, value)
) WITHOUT ROWID;
CREATE INDEX rollup_field_days_affiliate ON rollup_field_days (affiliate_id, field, bucket);

-- How far the coarse rollups are folded: every quarter hour before `through` (unix seconds).
CREATE TABLE rollup_marks (
    name    TEXT    PRIMARY KEY,
    through INTEGER NOT NULL
) WITHOUT ROWID;
