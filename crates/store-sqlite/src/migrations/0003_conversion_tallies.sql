-- What reports sum and filter on, as columns beside the document, and rollups of conversions
-- per UTC hour and day kept in the same transaction as every conversion and status change.
ALTER TABLE conversions ADD COLUMN is_lead     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversions ADD COLUMN payout      INTEGER NOT NULL DEFAULT 0;  -- 10^-8 of the currency unit
ALTER TABLE conversions ADD COLUMN revenue     INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversions ADD COLUMN source_id   TEXT    NOT NULL DEFAULT '';
ALTER TABLE conversions ADD COLUMN country     TEXT    NOT NULL DEFAULT '';
ALTER TABLE conversions ADD COLUMN device_type TEXT    NOT NULL DEFAULT '';
ALTER TABLE conversions ADD COLUMN os          TEXT    NOT NULL DEFAULT '';
ALTER TABLE conversions ADD COLUMN sub1        TEXT    NOT NULL DEFAULT '';
ALTER TABLE conversions ADD COLUMN sub2        TEXT    NOT NULL DEFAULT '';
ALTER TABLE conversions ADD COLUMN sub3        TEXT    NOT NULL DEFAULT '';
ALTER TABLE conversions ADD COLUMN sub4        TEXT    NOT NULL DEFAULT '';
ALTER TABLE conversions ADD COLUMN sub5        TEXT    NOT NULL DEFAULT '';

UPDATE conversions SET
    is_lead     = coalesce(json_extract(doc, '$.is_lead'), 0),
    payout      = CAST(round(coalesce(json_extract(doc, '$.payout'), 0) * 100000000) AS INTEGER),
    revenue     = CAST(round(coalesce(json_extract(doc, '$.revenue'), 0) * 100000000) AS INTEGER),
    source_id   = coalesce(json_extract(doc, '$.source_id'), ''),
    country     = coalesce(json_extract(doc, '$.country'), ''),
    device_type = coalesce(json_extract(doc, '$.device'), ''),
    os          = coalesce(json_extract(doc, '$.os'), ''),
    sub1        = coalesce(json_extract(doc, '$.subs[0]'), ''),
    sub2        = coalesce(json_extract(doc, '$.subs[1]'), ''),
    sub3        = coalesce(json_extract(doc, '$.subs[2]'), ''),
    sub4        = coalesce(json_extract(doc, '$.subs[3]'), ''),
    sub5        = coalesce(json_extract(doc, '$.subs[4]'), '');

CREATE INDEX conversions_affiliate ON conversions (affiliate_id, created_at);

CREATE TABLE conversion_rollups (
    grain        INTEGER NOT NULL,  -- seconds a row spans: 3600 or 86400
    bucket       INTEGER NOT NULL,  -- unix seconds of its start
    offer_id     INTEGER NOT NULL,
    affiliate_id INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    is_lead      INTEGER NOT NULL,
    conversions  INTEGER NOT NULL,
    payout       INTEGER NOT NULL,
    revenue      INTEGER NOT NULL,
    PRIMARY KEY (grain, bucket, offer_id, affiliate_id, status, is_lead)
) WITHOUT ROWID;

INSERT INTO conversion_rollups
SELECT 3600, created_at / 3600000 * 3600, offer_id, affiliate_id, status, is_lead, count(*), sum(payout), sum(revenue)
FROM conversions GROUP BY created_at / 3600000, offer_id, affiliate_id, status, is_lead;
INSERT INTO conversion_rollups
SELECT 86400, created_at / 86400000 * 86400, offer_id, affiliate_id, status, is_lead, count(*), sum(payout), sum(revenue)
FROM conversions GROUP BY created_at / 86400000, offer_id, affiliate_id, status, is_lead;
