#!/usr/bin/env python3
"""Runs Vigil's modern-server DDL and loads Native batches written by the engine into a current
ClickHouse engine (chdb, in-process), then answers queries.

usage: chdb_check.py SPEC.json
SPEC: {"ddl": [sql...], "inserts": {"db.table": "/path/batch.native"}, "queries": [sql...],
       "dedup_tokens": {"db.table": "token"}}   (optional: insert that batch twice with the
       token, as a WAL replay does; a deduplicating schema stores it once)
Prints one JSON array per query (its JSONEachRow rows) on its own line.
"""
import json
import sys
import tempfile

from chdb import session

spec = json.load(open(sys.argv[1]))
with tempfile.TemporaryDirectory() as path:
    s = session.Session(path)
    print("server", s.query("SELECT version()", "CSV").bytes().decode().strip(), file=sys.stderr)
    for ddl in spec["ddl"]:
        s.query(ddl)
    tokens = spec.get("dedup_tokens", {})
    for table, batch in spec["inserts"].items():
        token = tokens.get(table)
        if token is None:
            s.query(f"INSERT INTO {table} SELECT * FROM file('{batch}', Native)")
            continue
        for _attempt in range(2):
            s.query(f"INSERT INTO {table} SETTINGS insert_deduplication_token='{token}' "
                    f"SELECT * FROM file('{batch}', Native)")
    for q in spec["queries"]:
        out = s.query(q, "JSONEachRow").bytes().decode()
        print(json.dumps([json.loads(line) for line in out.splitlines() if line.strip()]))
