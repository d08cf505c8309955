-- A number every change to a configuration record moves on, in the same transaction, so a
-- server notices changes made by another process (the command line) within its poll interval.
-- API keys are left out: their `last_used_at` moves with use, and no snapshot holds them.
CREATE TABLE config_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

CREATE TRIGGER config_version_insert AFTER INSERT ON config_records WHEN NEW.kind <> 'api_key'
BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER config_version_update AFTER UPDATE ON config_records WHEN NEW.kind <> 'api_key'
BEGIN UPDATE config_version SET version = version + 1; END;
CREATE TRIGGER config_version_delete AFTER DELETE ON config_records WHEN OLD.kind <> 'api_key'
BEGIN UPDATE config_version SET version = version + 1; END;
