-- The incidents of the UI benchmark (benches/ui.sh), on top of benches/worker/seed.sql's
-- project and monitors: :incidents incidents over 30 days, one in fifty still open, each on
-- one monitor, every other one with a note. The account :user is made the project's owner.
INSERT INTO project_members (project_id, user_id, role)
VALUES ('00000000-0000-4000-8000-000000000000', :'user', 'owner');
WITH s AS (
    SELECT
        (SELECT id FROM incident_states WHERE kind = 'created') AS created,
        (SELECT id FROM incident_states WHERE kind = 'resolved') AS resolved,
        (SELECT id FROM incident_severities ORDER BY position LIMIT 1) AS severity
), i AS (
    SELECT n, now() - (n * interval '30 days' / :incidents) AS at,
           ('00000000-0000-4000-8000-' || lpad((1 + n % 5000)::text, 12, '0'))::uuid AS monitor
    FROM generate_series(1, :incidents) n
), made AS (
    INSERT INTO incidents (id, project_id, number, title, state_id, severity_id, auto_resolve,
                           declared_at, resolved_at)
    SELECT gen_random_uuid(), '00000000-0000-4000-8000-000000000000', n,
           'monitor ' || (1 + n % 5000) || ' is offline',
           CASE WHEN n % 50 = 0 THEN s.created ELSE s.resolved END, s.severity, true, at,
           CASE WHEN n % 50 = 0 THEN NULL ELSE at + interval '7 minutes' END
    FROM i, s
    RETURNING id, number, declared_at
)
INSERT INTO incident_monitors (incident_id, monitor_id)
SELECT made.id, ('00000000-0000-4000-8000-' || lpad((1 + made.number % 5000)::text, 12, '0'))::uuid
FROM made;
INSERT INTO incident_timeline (id, incident_id, at, kind, note)
SELECT gen_random_uuid(), id, declared_at + interval '1 minute', 'note', 'looking into it'
FROM incidents WHERE number % 2 = 0;
