-- By offer alone, per UTC hour and day: the network's offer report (seed 000) reads a table no
-- larger than offers × hours.
CREATE TABLE rollup_net_hours (
    bucket        INTEGER NOT NULL,
    offer_id      INTEGER NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,  -- 10^-8 of the currency unit
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (bucket, offer_id)
) WITHOUT ROWID;

CREATE TABLE rollup_net_days (
    bucket        INTEGER NOT NULL,
    offer_id      INTEGER NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (bucket, offer_id)
) WITHOUT ROWID;

-- Every report field, per affiliate and UTC day, folded from raw events: a report for some
-- affiliates on any fields (an affiliate's own stats) reads their rows together, in key order,
-- a fraction of the width of raw clicks. Kept like the other rollups beyond raw retention.
CREATE TABLE rollup_key_days (
    affiliate_id  INTEGER NOT NULL,
    bucket        INTEGER NOT NULL,
    offer_id      INTEGER NOT NULL,
    source_id     TEXT    NOT NULL,
    country       TEXT    NOT NULL,
    device_type   TEXT    NOT NULL,
    os            TEXT    NOT NULL,
    sub1          TEXT    NOT NULL,
    sub2          TEXT    NOT NULL,
    sub3          TEXT    NOT NULL,
    sub4          TEXT    NOT NULL,
    sub5          TEXT    NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (affiliate_id, bucket, offer_id, source_id, country, device_type, os, sub1, sub2, sub3, sub4, sub5)
) WITHOUT ROWID;
