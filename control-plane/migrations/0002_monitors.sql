-- Monitoring: statuses, monitors (with their criteria and push keys), the status timeline,
-- probes and their assignments, incidents, notification channels and their outbox, and
-- maintenance windows.

-- A project's monitor statuses; every project starts with Operational, Degraded and Offline.
CREATE TABLE monitor_statuses (
    id             uuid PRIMARY KEY,
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    color          text NOT NULL CHECK (color ~ '^#[0-9a-f]{6}$'),
    is_operational boolean NOT NULL DEFAULT false,
    is_offline     boolean NOT NULL DEFAULT false,
    position       integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE monitors (
    id                 uuid PRIMARY KEY,
    project_id         uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind               text NOT NULL CHECK (kind IN ('http', 'api', 'tcp', 'ping', 'dns', 'ssl', 'heartbeat', 'server')),
    -- What to check (URL, method, headers, host, port, record type …), by kind; checked by the API.
    settings           jsonb NOT NULL,
    interval_secs      integer NOT NULL CHECK (interval_secs BETWEEN 10 AND 86400),
    timeout_ms         integer NOT NULL CHECK (timeout_ms BETWEEN 100 AND 60000),
    retries            integer NOT NULL CHECK (retries BETWEEN 0 AND 5),
    min_probe_agreement integer NOT NULL DEFAULT 1 CHECK (min_probe_agreement >= 1),
    -- Ordered criteria (first match wins); checked by the API.
    criteria           jsonb NOT NULL DEFAULT '[]',
    default_status_id  uuid NOT NULL REFERENCES monitor_statuses (id),
    current_status_id  uuid NOT NULL REFERENCES monitor_statuses (id),
    status_since       timestamptz NOT NULL DEFAULT now(),
    -- The criterion (by name) the last evaluated result met; NULL: none (the default status).
    current_criterion  text,
    enabled            boolean NOT NULL DEFAULT true,
    -- Heartbeat and server monitors: the SHA-256 of the key pushes are sent with.
    key_digest         text UNIQUE,
    key_hint           text,
    -- Last push (heartbeat, agent report) and the last time the worker evaluated its absence.
    last_push_at       timestamptz,
    last_result_at     timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX monitors_project ON monitors (project_id, created_at);

CREATE TABLE monitor_status_timeline (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    monitor_id  uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    status_id   uuid NOT NULL REFERENCES monitor_statuses (id),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz,
    -- Which criterion (its name) or rule set the status; "no criteria met" for the default.
    reason      text NOT NULL
);
CREATE INDEX monitor_status_timeline_monitor ON monitor_status_timeline (monitor_id, starts_at DESC);

CREATE TABLE probes (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    digest       text NOT NULL UNIQUE,
    hint         text NOT NULL,
    version      text,
    last_seen_at timestamptz,
    is_online    boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX probes_project ON probes (project_id, created_at);

CREATE TABLE monitor_probes (
    monitor_id uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    probe_id   uuid NOT NULL REFERENCES probes (id) ON DELETE CASCADE,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- The latest result of this probe for this monitor, for probe agreement.
    last_criteria text,
    last_result_at timestamptz,
    PRIMARY KEY (monitor_id, probe_id)
);
CREATE INDEX monitor_probes_probe ON monitor_probes (probe_id);

-- A change of assignments tells the probes at once.
CREATE FUNCTION vigil_assignments_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vigil_assignments', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER monitor_probes_changed AFTER INSERT OR UPDATE OF monitor_id, probe_id OR DELETE ON monitor_probes
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_assignments_changed();
CREATE TRIGGER monitors_assignment_changed AFTER UPDATE OF settings, interval_secs, timeout_ms, retries, enabled OR DELETE ON monitors
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_assignments_changed();
-- Monitor keys are ingest keys too.
CREATE TRIGGER monitors_keys_changed AFTER INSERT OR UPDATE OF key_digest, enabled OR DELETE ON monitors
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_keys_changed();

CREATE TABLE incident_states (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    color      text NOT NULL CHECK (color ~ '^#[0-9a-f]{6}$'),
    kind       text NOT NULL CHECK (kind IN ('created', 'acknowledged', 'resolved', 'custom')),
    position   integer NOT NULL DEFAULT 0,
    UNIQUE (project_id, name)
);
-- One state of each built-in kind per project.
CREATE UNIQUE INDEX incident_states_kind ON incident_states (project_id, kind) WHERE kind <> 'custom';

CREATE TABLE incident_severities (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    color      text NOT NULL CHECK (color ~ '^#[0-9a-f]{6}$'),
    position   integer NOT NULL DEFAULT 0,
    UNIQUE (project_id, name)
);

CREATE TABLE incidents (
    id              uuid PRIMARY KEY,
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number          bigint NOT NULL,
    title           text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description     text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    state_id        uuid NOT NULL REFERENCES incident_states (id),
    severity_id     uuid NOT NULL REFERENCES incident_severities (id),
    -- Incidents opened by a monitor's criterion: which one, for deduplication and auto-resolve.
    source_monitor_id uuid REFERENCES monitors (id) ON DELETE SET NULL,
    source_criterion  text,
    auto_resolve    boolean NOT NULL DEFAULT false,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    acknowledged_by uuid REFERENCES users (id) ON DELETE SET NULL,
    acknowledged_at timestamptz,
    resolved_at     timestamptz,
    declared_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, number)
);
CREATE INDEX incidents_project ON incidents (project_id, declared_at DESC);
-- At most one open incident per monitor criterion.
CREATE UNIQUE INDEX incidents_open_per_criterion ON incidents (source_monitor_id, source_criterion)
    WHERE resolved_at IS NULL AND source_monitor_id IS NOT NULL;

CREATE TABLE incident_monitors (
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    monitor_id  uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    PRIMARY KEY (incident_id, monitor_id)
);
CREATE INDEX incident_monitors_monitor ON incident_monitors (monitor_id);

-- State changes and notes, in order.
CREATE TABLE incident_timeline (
    id          uuid PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL CHECK (kind IN ('state', 'note')),
    state_id    uuid REFERENCES incident_states (id),
    note        text CHECK (length(note) <= 10000),
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, at);

CREATE TABLE notification_channels (
    id         uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind       text NOT NULL CHECK (kind IN ('webhook', 'email', 'slack')),
    -- URL and signing secret, or SMTP server and addresses; checked by the API.
    settings   jsonb NOT NULL,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_channels_project ON notification_channels (project_id, created_at);

-- The outbox: written in the transaction that makes the change, sent by the worker with
-- retries; (channel, dedup_key) makes a change notify each channel once.
CREATE TABLE notifications (
    id              uuid PRIMARY KEY,
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    channel_id      uuid NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    dedup_key       text NOT NULL,
    event           text NOT NULL,
    payload         jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (channel_id, dedup_key)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';

CREATE TABLE maintenance_windows (
    id          uuid PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at > starts_at),
    -- Empty: every monitor of the project.
    monitor_ids uuid[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX maintenance_windows_project ON maintenance_windows (project_id, ends_at);

-- Per-project incident numbers.
ALTER TABLE projects ADD COLUMN incident_counter bigint NOT NULL DEFAULT 0;

-- What every project starts with: monitor statuses, incident states and severities.
CREATE FUNCTION vigil_seed_project(p uuid) RETURNS void LANGUAGE sql AS $$
    INSERT INTO monitor_statuses (id, project_id, name, color, is_operational, is_offline, position) VALUES
        (gen_random_uuid(), p, 'Operational', '#2e9e5b', true, false, 0),
        (gen_random_uuid(), p, 'Degraded', '#e0a800', false, false, 1),
        (gen_random_uuid(), p, 'Offline', '#d93025', false, true, 2);
    INSERT INTO incident_states (id, project_id, name, color, kind, position) VALUES
        (gen_random_uuid(), p, 'Created', '#d93025', 'created', 0),
        (gen_random_uuid(), p, 'Acknowledged', '#e0a800', 'acknowledged', 1),
        (gen_random_uuid(), p, 'Resolved', '#2e9e5b', 'resolved', 2);
    INSERT INTO incident_severities (id, project_id, name, color, position) VALUES
        (gen_random_uuid(), p, 'Critical', '#d93025', 0),
        (gen_random_uuid(), p, 'Major', '#f07f11', 1),
        (gen_random_uuid(), p, 'Minor', '#e0a800', 2);
$$;
SELECT vigil_seed_project(id) FROM projects;
