-- Raw clicks by offer and by affiliate, in time order: a raw-click query or a raw report
-- narrowed to some offers or affiliates (an affiliate's own traffic, say) reads only theirs.
CREATE INDEX clicks_offer ON clicks (offer_id, id);
CREATE INDEX clicks_affiliate ON clicks (affiliate_id, id);
-- Clicks on ids that name nothing: never counted, so in no rollup. A raw-click query that skips
-- days the rollups show cannot match still finds these through this (small) index.
CREATE INDEX clicks_uncounted ON clicks (id) WHERE error_code IN (1, 2);
