#!/usr/bin/env python3
"""Runs Vigil's modern-server DDL and loads Native batches written by the engine into a current
ClickHouse engine (chdb, in-process), then answers queries.

usage: chdb_check.py SPEC.json
SPEC: {"ddl": [sql...], "inserts": {"db.table": "/path/batch.native"}, "queries": [sql...]}
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
    for table, batch in spec["inserts"].items():
        s.query(f"INSERT INTO {table} SELECT * FROM file('{batch}', Native)")
    for q in spec["queries"]:
        out = s.query(q, "JSONEachRow").bytes().decode()
        print(json.dumps([json.loads(line) for line in out.splitlines() if line.strip()]))
