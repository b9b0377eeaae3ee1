"""Probe results for the worker benchmark (benches/worker.sh), as Redis protocol for
`redis-cli --pipe`: `results` XADDs to `key`, round-robin over `monitors` monitors of the seed
(seed.sql), one result per monitor per minute of simulated time. A share FAILURES of results
(default 0.01) are failures (offline, slow, lossy, expiring, wrong answer), so statuses change
and incidents open and resolve as they would in a real fleet: each failure among good results
is two status changes.

Usage: results.py KEY RESULTS MONITORS [FAILURES] > pipe"""

import json
import random
import sys

key, total, monitors = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
failures = float(sys.argv[4]) if len(sys.argv) > 4 else 0.01
rng = random.Random(7)
out = sys.stdout.buffer
base = 1_800_000_000 * 10**9
project = "00000000-0000-4000-8000-000000000000"
probe = "00000000-0000-4000-8000-ffffffffffff"


def resp(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(parts)


def result(kind, bad):
    if kind == "http":
        if bad:
            return rng.choice([
                {"is_online": False, "is_timeout": True, "error": "timeout after 10000 ms"},
                {"is_online": True, "status_code": 503, "response_time_ms": 40.0, "body": "unavailable"},
                {"is_online": True, "status_code": 200, "response_time_ms": 2500.0, "body": "<html>ok</html>"},
            ])
        return {"is_online": True, "status_code": 200, "response_time_ms": round(rng.uniform(20, 300), 1),
                "body": "<html><head><title>Shop</title></head><body>ok</body></html>"}
    if kind == "tcp":
        return {"is_online": not bad, "response_time_ms": round(rng.uniform(1, 50), 1)}
    if kind == "ping":
        loss = 40.0 if bad else 0.0
        return {"is_online": True, "packet_loss_percent": loss, "jitter_ms": round(rng.uniform(0, 5), 2),
                "response_time_ms": round(rng.uniform(1, 30), 2)}
    if kind == "ssl":
        return {"is_online": True, "certificate_expires_in_days": 7.0 if bad else 64.5,
                "certificate_valid": True, "certificate_self_signed": False, "response_time_ms": 35.0}
    answers = "192.168.1.1" if bad else "10.0.0.5\n10.0.0.6"
    return {"is_online": True, "dns_answers": answers, "response_time_ms": round(rng.uniform(1, 20), 1)}


kinds = ["http"] * 4 + ["tcp"] * 2 + ["ping"] * 2 + ["ssl", "dns"]
for n in range(total):
    i = n % monitors + 1
    minute = n // monitors
    kind = kinds[i % 10]
    body = json.dumps(result(kind, rng.random() < failures), separators=(",", ":"))
    out.write(resp("XADD", key, "*",
                   "event_id", f"b{n}",
                   "project_id", project,
                   "monitor_id", f"00000000-0000-4000-8000-{i:012d}",
                   "probe_id", probe,
                   "checked_at_unix_nano", base + minute * 60 * 10**9 + i * 1000,
                   "result", body))
