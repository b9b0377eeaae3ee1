-- The monitors of the worker benchmark (benches/worker.sh): one project, :monitors monitors in
-- a realistic mix — website (40%), TCP (20%), ping (20%), TLS certificate (10%), DNS (10%) —
-- each with the criteria an operator would set (offline → Offline with an incident, slow or
-- degraded → Degraded). Monitor i has id 00000000-0000-4000-8000-<i as 12 digits>.
INSERT INTO projects (id, name) VALUES ('00000000-0000-4000-8000-000000000000', 'bench');
SELECT vigil_seed_project('00000000-0000-4000-8000-000000000000');
WITH s AS (
    SELECT
        (SELECT id FROM monitor_statuses WHERE name = 'Operational') AS ok,
        (SELECT id FROM monitor_statuses WHERE name = 'Degraded') AS degraded,
        (SELECT id FROM monitor_statuses WHERE name = 'Offline') AS offline,
        (SELECT id FROM incident_severities WHERE name = 'Critical') AS critical
), m AS (
    SELECT i, CASE WHEN i % 10 < 4 THEN 'http' WHEN i % 10 < 6 THEN 'tcp'
                   WHEN i % 10 < 8 THEN 'ping' WHEN i % 10 = 8 THEN 'ssl' ELSE 'dns' END AS kind
    FROM generate_series(1, :monitors) i
)
INSERT INTO monitors (id, project_id, name, kind, settings, interval_secs, timeout_ms, retries,
                      criteria, default_status_id, current_status_id)
SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid,
       '00000000-0000-4000-8000-000000000000', kind || '-' || i, kind, '{}', 60, 10000, 0,
       jsonb_build_array(
           jsonb_build_object('name', 'Offline', 'match', 'any', 'status_id', s.offline,
               'filters', jsonb_build_array(
                   jsonb_build_object('check', 'is_online', 'op', 'is_false'),
                   jsonb_build_object('check', 'status_code', 'op', 'gte', 'value', 500)),
               'incident', jsonb_build_object('title', kind || '-' || i || ' is offline',
                   'severity_id', s.critical, 'auto_resolve', true)),
           CASE kind
               WHEN 'http' THEN jsonb_build_object('name', 'Slow', 'match', 'all', 'status_id', s.degraded,
                   'filters', jsonb_build_array(
                       jsonb_build_object('check', 'response_time_ms', 'op', 'gt', 'value', 1000),
                       jsonb_build_object('check', 'response_body', 'op', 'not_contains', 'value', 'maintenance')))
               WHEN 'ping' THEN jsonb_build_object('name', 'Lossy', 'match', 'any', 'status_id', s.degraded,
                   'filters', jsonb_build_array(
                       jsonb_build_object('check', 'packet_loss_percent', 'op', 'gt', 'value', 20),
                       jsonb_build_object('check', 'jitter_ms', 'op', 'gt', 'value', 50)))
               WHEN 'ssl' THEN jsonb_build_object('name', 'Expiring', 'match', 'any', 'status_id', s.degraded,
                   'filters', jsonb_build_array(
                       jsonb_build_object('check', 'certificate_expires_in_days', 'op', 'lt', 'value', 14),
                       jsonb_build_object('check', 'certificate_valid', 'op', 'is_false')))
               WHEN 'dns' THEN jsonb_build_object('name', 'Wrong answer', 'match', 'all', 'status_id', s.degraded,
                   'filters', jsonb_build_array(
                       jsonb_build_object('check', 'dns_answers', 'op', 'not_contains', 'value', '10.0.0.')))
               ELSE jsonb_build_object('name', 'Slow connect', 'match', 'all', 'status_id', s.degraded,
                   'filters', jsonb_build_array(
                       jsonb_build_object('check', 'response_time_ms', 'op', 'gt', 'value', 500)))
           END),
       s.ok, s.ok
FROM m, s;
