#!/usr/bin/env python3
"""Sends log records over Fluent Forward with the official Python `fluent-logger`, as Fluent
Bit and Fluentd applications do, at the current time (EventTime, nanoseconds), for the
explorer's Forward test. The tag is the service; the records use the usual field spellings:

  0 checkout  message "payment failed: card declined"  level error    http.status 502
  1 checkout  message "payment accepted"               level info     http.status 200
  2 search    log "query timeout after 250 ms"         severity warning  http.status 504
  3 search    msg "index rebuilt"                      level debug

usage: explorer_forward.py HOST PORT
"""
import sys
import time

from fluent import sender

host, port = sys.argv[1], int(sys.argv[2])
RECORDS = [
    ("checkout", {"message": "payment failed: card declined", "level": "error", "http.status": 502}),
    ("checkout", {"message": "payment accepted", "level": "info", "http.status": 200}),
    ("search", {"log": "query timeout after 250 ms", "severity": "warning", "http.status": 504}),
    ("search", {"msg": "index rebuilt", "level": "debug"}),
]
for tag, record in RECORDS:
    s = sender.FluentSender(tag, host=host, port=port, nanosecond_precision=True)
    if not s.emit_with_time(None, sender.EventTime(time.time()), record):
        sys.exit(f"emit failed: {s.last_error}")
    s.close()
