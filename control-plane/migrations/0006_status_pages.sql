-- Public status pages: the pages, the host names they claim, their groups and resources,
-- announcements; the public side of incidents (updates written for the public, a flag that
-- keeps an incident off every page); maintenance windows described for the public; and the
-- per-day rollups of each monitor's status that uptime bars are drawn from.

CREATE TABLE status_pages (
    id           uuid PRIMARY KEY,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- The page lives at /status/{slug}.
    slug         text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$'),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 2000),
    brand_color  text NOT NULL DEFAULT '#2457c5' CHECK (brand_color ~ '^#[0-9a-f]{6}$'),
    -- [{"label": …, "url": …}], checked by the API.
    footer_links jsonb NOT NULL DEFAULT '[]',
    -- An IANA name PostgreSQL knows; times on the page are shown in it.
    time_zone    text NOT NULL DEFAULT 'UTC',
    noindex      boolean NOT NULL DEFAULT false,
    visibility   text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'password', 'members')),
    -- argon2 PHC string, set when visibility is 'password'.
    password_hash text,
    logo         bytea CHECK (octet_length(logo) <= 262144),
    logo_type    text CHECK (logo_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (visibility <> 'password' OR password_hash IS NOT NULL),
    CHECK ((logo IS NULL) = (logo_type IS NULL))
);
CREATE INDEX status_pages_project ON status_pages (project_id, created_at);

-- Host names a page answers on at `/` (custom domains); one page per host.
CREATE TABLE status_page_domains (
    host       text PRIMARY KEY CHECK (host ~ '^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$'),
    page_id    uuid NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE
);
CREATE INDEX status_page_domains_page ON status_page_domains (page_id);

CREATE TABLE status_page_groups (
    id          uuid PRIMARY KEY,
    page_id     uuid NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    -- 'proportional': offline only when every member is; 'worst': the worst member's status.
    rule        text NOT NULL DEFAULT 'proportional' CHECK (rule IN ('proportional', 'worst')),
    position    integer NOT NULL
);
CREATE INDEX status_page_groups_page ON status_page_groups (page_id, position);

CREATE TABLE status_page_resources (
    id           uuid PRIMARY KEY,
    page_id      uuid NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    project_id   uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- NULL: shown outside any group.
    group_id     uuid REFERENCES status_page_groups (id) ON DELETE CASCADE,
    monitor_id   uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 1000),
    show_chart   boolean NOT NULL DEFAULT false,
    position     integer NOT NULL
);
CREATE INDEX status_page_resources_page ON status_page_resources (page_id, position);
CREATE INDEX status_page_resources_monitor ON status_page_resources (monitor_id);

CREATE TABLE status_page_announcements (
    id         uuid PRIMARY KEY,
    page_id    uuid NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body       text NOT NULL DEFAULT '' CHECK (length(body) <= 10000),
    starts_at  timestamptz NOT NULL,
    -- NULL: until removed.
    ends_at    timestamptz CHECK (ends_at > starts_at),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_page_announcements_page ON status_page_announcements (page_id, starts_at DESC);

-- What the public reads of an incident, apart from the internal notes.
CREATE TABLE incident_public_updates (
    id          uuid PRIMARY KEY,
    incident_id uuid NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    status      text NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_public_updates_incident ON incident_public_updates (incident_id, created_at);

ALTER TABLE incidents ADD COLUMN hidden_from_status_pages boolean NOT NULL DEFAULT false;

-- Maintenance told to the public: a description, and whether status pages show it.
ALTER TABLE maintenance_windows ADD COLUMN description text NOT NULL DEFAULT ''
    CHECK (length(description) <= 10000);
ALTER TABLE maintenance_windows ADD COLUMN show_on_status_pages boolean NOT NULL DEFAULT true;

-- Seconds of each UTC day a monitor spent in each kind of status, from the status timeline;
-- kept by the worker (today and yesterday on every run, the last 90 days when it starts).
CREATE TABLE monitor_daily (
    monitor_id    uuid NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    day           date NOT NULL,
    observed_secs integer NOT NULL,
    degraded_secs integer NOT NULL,
    down_secs     integer NOT NULL,
    PRIMARY KEY (monitor_id, day)
);

-- A change to what a status page shows tells every `vigil serve` (its snapshot is rebuilt).
CREATE TRIGGER status_pages_project_changed AFTER INSERT OR UPDATE OR DELETE ON status_pages
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();
CREATE TRIGGER status_page_domains_project_changed AFTER INSERT OR UPDATE OR DELETE ON status_page_domains
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();
CREATE TRIGGER status_page_groups_project_changed AFTER INSERT OR UPDATE OR DELETE ON status_page_groups
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();
CREATE TRIGGER status_page_resources_project_changed AFTER INSERT OR UPDATE OR DELETE ON status_page_resources
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();
CREATE TRIGGER status_page_announcements_project_changed AFTER INSERT OR UPDATE OR DELETE ON status_page_announcements
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();
CREATE TRIGGER incident_public_updates_project_changed AFTER INSERT OR UPDATE OR DELETE ON incident_public_updates
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();
CREATE TRIGGER maintenance_windows_project_changed AFTER INSERT OR UPDATE OR DELETE ON maintenance_windows
    FOR EACH ROW EXECUTE FUNCTION vigil_project_changed();

-- The rollup job reads the timeline rows that overlap the last days: the ones still open or
-- ended lately.
CREATE INDEX monitor_status_timeline_ends ON monitor_status_timeline (ends_at);

-- Which slugs and host names lead to which page: every `vigil serve` reloads its directory
-- when a page or a domain changes.
CREATE FUNCTION vigil_status_pages_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vigil_status_pages', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER status_pages_directory_changed AFTER INSERT OR UPDATE OF slug OR DELETE ON status_pages
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_status_pages_changed();
CREATE TRIGGER status_page_domains_directory_changed AFTER INSERT OR UPDATE OR DELETE ON status_page_domains
    FOR EACH STATEMENT EXECUTE FUNCTION vigil_status_pages_changed();
