-- Configuration records: one JSON document per record, beside the values lists filter on.
CREATE TABLE config_records (
    kind        TEXT    NOT NULL,
    id          INTEGER NOT NULL,
    name        TEXT,
    status      TEXT,
    role        TEXT,
    owner_id    INTEGER,
    ref_id      INTEGER,
    position    INTEGER,
    unique_key  TEXT,
    doc         TEXT    NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;

CREATE UNIQUE INDEX config_records_unique ON config_records (kind, unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX config_records_owner ON config_records (kind, owner_id);
CREATE INDEX config_records_ref ON config_records (kind, ref_id);

-- Ids are handed out from here so that a deleted record's id is never reused.
CREATE TABLE config_sequences (
    kind    TEXT    PRIMARY KEY,
    last_id INTEGER NOT NULL
) WITHOUT ROWID;
