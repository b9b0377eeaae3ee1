-- Pages that show a project's monitors and incidents update live: a change of a monitor's
-- status (or the set of monitors) and any change to an incident or its timeline sends
-- NOTIFY `vigil_project_changes` with the project's id. Every `vigil serve` listens, so a
-- browser connected to any of them hears of a change made through any other or by the worker.
-- A monitor's `last_result_at` moves on every result and is left out on purpose: only status
-- changes are worth a notification.
CREATE FUNCTION vigil_project_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    project uuid;
BEGIN
    IF TG_TABLE_NAME = 'incident_timeline' THEN
        SELECT project_id INTO project FROM incidents WHERE id = NEW.incident_id;
    ELSIF TG_OP = 'DELETE' THEN
        project := OLD.project_id;
    ELSE
        project := NEW.project_id;
    END IF;
    IF project IS NOT NULL THEN
        PERFORM pg_notify('vigil_project_changes', project::text);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER monitors_project_changed
    AFTER INSERT OR UPDATE OF current_status_id, name, enabled OR DELETE ON monitors
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();
CREATE TRIGGER incidents_project_changed AFTER INSERT OR UPDATE OR DELETE ON incidents
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();
CREATE TRIGGER incident_timeline_project_changed AFTER INSERT ON incident_timeline
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();
