-- The network's traffic by the values of two fields, at least one a sub-id, per UTC day: a
-- network report on a sub-id and one more field (sub1 × country, sub1 × sub2, …) reads the
-- pair's values per day instead of every raw click. `pair` is ten times the smaller field
-- code of `rollup_field_days` plus the larger (17 = sub1 × country; `fold::pair_code`);
-- `value` is the smaller code's value, `value2` the larger's.
CREATE TABLE rollup_net_pair_days (
    pair          INTEGER NOT NULL,
    bucket        INTEGER NOT NULL,
    value         TEXT    NOT NULL,
    value2        TEXT    NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    unique_clicks INTEGER NOT NULL,
    payout        INTEGER NOT NULL,  -- 10^-8 of the currency unit
    revenue       INTEGER NOT NULL,
    PRIMARY KEY (pair, bucket, value, value2)
) WITHOUT ROWID;
