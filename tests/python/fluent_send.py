#!/usr/bin/env python3
"""Sends records to a Forward listener with the official Python `fluent-logger` (Message mode).

usage: fluent_send.py HOST PORT RUN_ID
Sends three records with integer-second times and three with EventTime (nanosecond precision),
and exits non-zero if the logger reports an error.
"""
import sys

from fluent import sender

host, port, run_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for precise in (False, True):
    s = sender.FluentSender("app", host=host, port=port, nanosecond_precision=precise)
    for i in range(3):
        record = {
            "message": f"{run_id} precise={precise} n={i}",
            "level": "warning",
            "trace_id": "5b8efff798038103d269b633813fc60c",
            "n": i,
            "ratio": 0.5,
            "nested": {"k": [1, "two"]},
        }
        if not s.emit_with_time("web", 1441588984 + i if not precise else sender.EventTime(1441588984.123456789 + i), record):
            sys.exit(f"emit failed: {s.last_error}")
    s.close()
