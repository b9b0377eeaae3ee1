-- A status page for benches/status.sh, on the project and monitors of benches/worker/seed.sql:
-- page :'slug' shows monitors 1 to :resources, in :groups groups, with 90 days of per-day
-- rollups (a short outage every ninth day, some degraded time), a status timeline, and one
-- incident with public updates every fourth day of the last 90 (two still open).
WITH s AS (
    SELECT (SELECT id FROM monitor_statuses WHERE name = 'Operational') AS ok
)
INSERT INTO monitor_status_timeline (id, project_id, monitor_id, status_id, starts_at, reason)
SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000000',
       ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, s.ok,
       now() - interval '90 days', 'bench'
FROM generate_series(1, :resources) i, s
ON CONFLICT DO NOTHING;

INSERT INTO status_pages (id, project_id, name, slug, description)
VALUES (gen_random_uuid(), '00000000-0000-4000-8000-000000000000', 'Bench status', :'slug',
        'A page of ' || :resources || ' systems');

INSERT INTO status_page_groups (id, page_id, project_id, name, position)
SELECT gen_random_uuid(), p.id, p.project_id, 'Group ' || g, g
FROM status_pages p, generate_series(1, :groups) g WHERE p.slug = :'slug';

INSERT INTO status_page_resources (id, page_id, project_id, group_id, monitor_id, display_name,
                                   show_chart, position)
SELECT gen_random_uuid(), p.id, p.project_id, g.id,
       ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'System ' || i, i % 10 = 1, i
FROM status_pages p, generate_series(1, :resources) i
JOIN status_page_groups g ON g.position = 1 + i % :groups
WHERE p.slug = :'slug' AND g.page_id = p.id;

INSERT INTO monitor_daily (monitor_id, project_id, day, observed_secs, degraded_secs, down_secs)
SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
       '00000000-0000-4000-8000-000000000000', current_date - d, 86400,
       CASE WHEN (i + d) % 13 = 0 THEN 1800 ELSE 0 END,
       CASE WHEN (i + d) % 9 = 0 THEN 300 + (i * 37 + d) % 3000 ELSE 0 END
FROM generate_series(1, :resources) i, generate_series(0, 89) d
ON CONFLICT (monitor_id, day) DO NOTHING;

WITH made AS (
    INSERT INTO incidents (id, project_id, number, title, state_id, severity_id, declared_at,
                           resolved_at)
    SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000000', 1000000 + :resources * 1000 + d,
           'Bench incident ' || d,
           (SELECT id FROM incident_states WHERE kind = CASE WHEN d < 8 THEN 'created' ELSE 'resolved' END),
           (SELECT id FROM incident_severities WHERE name = 'Minor'),
           now() - make_interval(days => d), CASE WHEN d < 8 THEN NULL ELSE now() - make_interval(days => d) + interval '1 hour' END
    FROM generate_series(0, 89, 4) d
    RETURNING id, number
), touched AS (
    INSERT INTO incident_monitors (incident_id, monitor_id)
    SELECT id, ('00000000-0000-4000-8000-' || lpad((1 + number % :resources)::text, 12, '0'))::uuid FROM made
    RETURNING incident_id
)
INSERT INTO incident_public_updates (id, incident_id, project_id, status, body, created_at)
SELECT gen_random_uuid(), id, '00000000-0000-4000-8000-000000000000', st, 'We are on it: ' || st, now()
FROM made, unnest(ARRAY['investigating', 'identified']) st;
