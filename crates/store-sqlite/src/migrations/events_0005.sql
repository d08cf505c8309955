-- The network's traffic without offer or affiliate, per UTC day: a report over the whole
-- network on source, country, device and OS (any of them) reads a table no larger than the
-- combinations of those that each day saw, not one row per offer × affiliate × combination.
CREATE TABLE rollup_net_full_days (
    bucket        INTEGER NOT NULL,
    source_id     TEXT    NOT NULL,
    country       TEXT    NOT NULL,
    device_type   TEXT    NOT NULL,
    os            TEXT    NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,  -- 10^-8 of the currency unit
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (bucket, source_id, country, device_type, os)
) WITHOUT ROWID;

-- The network's traffic by the value of one sub-id, per UTC day (field 1-5 as in
-- `rollup_field_days`): a network report on one sub-id reads that sub-id's values per day.
CREATE TABLE rollup_net_field_days (
    field         INTEGER NOT NULL,
    bucket        INTEGER NOT NULL,
    value         TEXT    NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (field, bucket, value)
) WITHOUT ROWID;
