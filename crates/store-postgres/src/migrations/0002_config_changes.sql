-- Every committed change to a configuration record (API keys aside: their `last_used_at` moves
-- with use, and no node holds them in memory) notifies the channel of this schema; each node
-- listens and reloads its catalog. PostgreSQL delivers a notification only when its transaction
-- commits, and folds the duplicates of one transaction into one.
CREATE FUNCTION clicktrail_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('clicktrail_config:' || current_schema(), '');
    RETURN NULL;
END
$$;
CREATE TRIGGER config_records_written AFTER INSERT OR UPDATE ON config_records
    FOR EACH ROW WHEN (NEW.kind <> 'api_key') EXECUTE FUNCTION clicktrail_config_changed();
CREATE TRIGGER config_records_deleted AFTER DELETE ON config_records
    FOR EACH ROW WHEN (OLD.kind <> 'api_key') EXECUTE FUNCTION clicktrail_config_changed();
