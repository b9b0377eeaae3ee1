-- Probe keys are ingest keys too: the ingest engine takes probe results with them.
CREATE TRIGGER probes_keys_changed AFTER INSERT OR UPDATE OF digest OR DELETE ON probes
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_keys_changed();
