-- Telemetry monitors: a logs search, a span query or a metric measured by the worker.
ALTER TABLE monitors DROP CONSTRAINT IF EXISTS monitors_kind_check;
ALTER TABLE monitors ADD CONSTRAINT monitors_kind_check CHECK (kind IN
    ('http', 'api', 'tcp', 'ping', 'dns', 'ssl', 'heartbeat', 'server', 'logs', 'traces', 'metrics'));
