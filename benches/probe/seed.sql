-- The monitors of the probe benchmark (benches/probe.sh): one project, one probe whose key is
-- :'key', and :monitors HTTP monitors at a 10 s interval against :'url', all assigned to it.
INSERT INTO projects (id, name) VALUES ('00000000-0000-4000-8000-000000000000', 'bench');
SELECT vigil_seed_project('00000000-0000-4000-8000-000000000000');
INSERT INTO probes (id, project_id, name, digest, hint)
VALUES ('00000000-0000-4000-8000-ffffffffffff', '00000000-0000-4000-8000-000000000000', 'bench',
        encode(sha256(convert_to(:'key', 'UTF8')), 'hex'), 'vpk_bench');
WITH s AS (SELECT id FROM monitor_statuses WHERE name = 'Operational')
INSERT INTO monitors (id, project_id, name, kind, settings, interval_secs, timeout_ms, retries,
                      criteria, default_status_id, current_status_id)
SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
       '00000000-0000-4000-8000-000000000000', 'site-' || i, 'http',
       jsonb_build_object('url', :'url', 'method', 'GET', 'headers', '{}'::jsonb,
                          'follow_redirects', true, 'allow_self_signed', false),
       10, 5000, 0, '[]', s.id, s.id
FROM generate_series(1, :monitors) i, s;
INSERT INTO monitor_probes (monitor_id, probe_id, project_id)
SELECT id, '00000000-0000-4000-8000-ffffffffffff', project_id FROM monitors;
