"""Reads a status page the way third-party tools do and prints what they make of it as JSON:
the RSS and Atom feeds parsed by feedparser, and every Statuspage v2 document validated
against tests/statuspage/schema.json (written from Statuspage's public documentation).

usage: status_check.py <page URL> <schema path> [Cookie header]
"""

import json
import sys
import urllib.request

import feedparser
import jsonschema

DOCUMENTS = {
    "summary.json": "summary.json",
    "status.json": "status.json",
    "components.json": "components.json",
    "incidents.json": "incidents.json",
    "incidents/unresolved.json": "incidents.json",
    "scheduled-maintenances.json": "scheduled-maintenances.json",
    "scheduled-maintenances/upcoming.json": "scheduled-maintenances.json",
    "scheduled-maintenances/active.json": "scheduled-maintenances.json",
}


def fetch(url, cookie):
    request = urllib.request.Request(url)
    if cookie:
        request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def main():
    page, schema_path, cookie = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
    with open(schema_path) as f:
        schema = json.load(f)
    out = {"feeds": {}, "documents": {}}
    for kind in ("rss", "atom"):
        parsed = feedparser.parse(fetch(f"{page}/feed.{kind}", cookie))
        out["feeds"][kind] = {
            "bozo": bool(parsed.bozo),
            "version": parsed.version,
            "title": parsed.feed.get("title"),
            "entries": [{"title": e.get("title"), "link": e.get("link"), "id": e.get("id"),
                         "summary": e.get("summary")} for e in parsed.entries],
        }
    for name, definition in DOCUMENTS.items():
        document = json.loads(fetch(f"{page}/api/v2/{name}", cookie))
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]})
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(document)]
        out["documents"][name] = {"errors": errors, "body": document}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
