#!/usr/bin/env python3
"""Renders Vigil's nginx configuration into a folder, from environment variables.

usage: render.py OUT_DIR [--standalone] [--installed-at DIR]

Writes OUT_DIR/vigil.conf (upstreams and servers: include it in nginx's `http` block), and
the snippets it includes (vigil-locations.conf, vigil-proxy.conf). With --standalone also
OUT_DIR/nginx.conf, a whole configuration that keeps nginx's pid, logs and temporary files
under OUT_DIR (run it with `nginx -c OUT_DIR/nginx.conf`). With --installed-at, the files
name each other (and pid, logs) as they will be found at DIR, not OUT_DIR (a container's
mount point: deploy/compose/nginx is rendered so).

Settings (lists are separated by spaces or commas):
  VIGIL_EDGE_LISTEN            address:port of the TLS listener (default 127.0.0.1:8443)
  VIGIL_EDGE_SERVER_NAME       server_name of the main server (default _: any host)
  VIGIL_EDGE_CERT, _KEY        certificate chain and key (PEM) of the main server (required)
  VIGIL_EDGE_CONTROL           `vigil serve` addresses (default 127.0.0.1:8080)
  VIGIL_EDGE_INGEST_HTTP       ingest engines' OTLP/HTTP addresses (default 127.0.0.1:4318)
  VIGIL_EDGE_INGEST_GRPC       ingest engines' OTLP/gRPC addresses (default 127.0.0.1:4317)
  VIGIL_EDGE_INGEST_MAX_BODY   body cap of ingest paths; keep it VIGIL_MAX_BODY_BYTES (64m)
  VIGIL_EDGE_CONTROL_MAX_BODY  body cap of the control plane; keep it its max_body_bytes (1m)
  VIGIL_EDGE_STATUS_DOMAINS    status page custom domains, each `domain=cert.pem:key.pem`:
                               a server of its own with its certificate (same locations)
  VIGIL_EDGE_WORKERS           worker_processes with --standalone (default auto)
"""
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def items(name, default=""):
    return [v for v in re.split(r"[\s,]+", os.environ.get(name, default)) if v]


def address(value, name):
    # host:port or [v6]:port; nothing that could end a directive.
    if not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}", value):
        sys.exit(f"render: {name}: {value!r} is not host:port")
    return value


def path(value, name):
    if not value or re.search(r"[\s;{}'\"$]", value):
        sys.exit(f"render: {name}: {value!r} is not a plain file path")
    return value if value.startswith("/") else str(Path(value).resolve())


def size(value, name):
    if not re.fullmatch(r"[0-9]+[kKmMgG]?", value):
        sys.exit(f"render: {name}: {value!r} is not an nginx size such as 64m")
    return value


def servers(name, default):
    listed = [address(a, name) for a in items(name, default)]
    if not listed:
        sys.exit(f"render: {name} lists no address")
    return "\n".join(f"    server {a} max_fails=1 fail_timeout=5s;" for a in listed)


def fill(template, fields):
    text = (HERE / template).read_text()
    for key, value in fields.items():
        text = text.replace(f"@@{key}@@", value)
    left = re.findall(r"@@[A-Z_]+@@", text)
    if left:
        sys.exit(f"render: {template}: {left[0]} has no value")
    return text


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    out = Path(args[0]).resolve()
    standalone = "--standalone" in args[1:]
    installed = out
    if "--installed-at" in args[1:]:
        at = args[args.index("--installed-at") + 1:]
        if not at or not at[0].startswith("/"):
            sys.exit("render: --installed-at takes an absolute directory")
        installed = Path(at[0])
    out.mkdir(parents=True, exist_ok=True)
    cert = os.environ.get("VIGIL_EDGE_CERT", "")
    key = os.environ.get("VIGIL_EDGE_KEY", "")
    if not cert or not key:
        sys.exit("render: VIGIL_EDGE_CERT and VIGIL_EDGE_KEY name the certificate and its key")
    listen = address(os.environ.get("VIGIL_EDGE_LISTEN", "127.0.0.1:8443"), "VIGIL_EDGE_LISTEN")
    server_name = os.environ.get("VIGIL_EDGE_SERVER_NAME", "_")
    if not re.fullmatch(r"[A-Za-z0-9_.*-]+( [A-Za-z0-9_.*-]+)*", server_name):
        sys.exit(f"render: VIGIL_EDGE_SERVER_NAME: {server_name!r} is not a list of names")
    domains = []
    for entry in items("VIGIL_EDGE_STATUS_DOMAINS"):
        domain, _, files = entry.partition("=")
        dcert, _, dkey = files.partition(":")
        if not re.fullmatch(r"[A-Za-z0-9.-]+", domain) or not dcert or not dkey:
            sys.exit(f"render: VIGIL_EDGE_STATUS_DOMAINS: {entry!r} is not domain=cert:key")
        domains.append(f"""
# The status page at {domain}, with its own certificate.
server {{
    listen {listen} ssl http2;
    server_name {domain};
    ssl_certificate {path(dcert, domain)};
    ssl_certificate_key {path(dkey, domain)};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:vigil_tls:10m;
    include {installed}/vigil-locations.conf;
}}""")
    fields = {
        "LISTEN": listen,
        "SERVER_NAME": server_name,
        "CERT": path(cert, "VIGIL_EDGE_CERT"),
        "KEY": path(key, "VIGIL_EDGE_KEY"),
        "CONTROL_SERVERS": servers("VIGIL_EDGE_CONTROL", "127.0.0.1:8080"),
        "INGEST_HTTP_SERVERS": servers("VIGIL_EDGE_INGEST_HTTP", "127.0.0.1:4318"),
        "INGEST_GRPC_SERVERS": servers("VIGIL_EDGE_INGEST_GRPC", "127.0.0.1:4317"),
        "INGEST_MAX_BODY": size(os.environ.get("VIGIL_EDGE_INGEST_MAX_BODY", "64m"),
                                "VIGIL_EDGE_INGEST_MAX_BODY"),
        "CONTROL_MAX_BODY": size(os.environ.get("VIGIL_EDGE_CONTROL_MAX_BODY", "1m"),
                                 "VIGIL_EDGE_CONTROL_MAX_BODY"),
        "SNIPPETS": str(installed),
        "STATUS_DOMAINS": "\n".join(domains),
        "DIR": str(installed),
        "WORKERS": os.environ.get("VIGIL_EDGE_WORKERS", "auto"),
    }
    if not re.fullmatch(r"auto|[0-9]{1,3}", fields["WORKERS"]):
        sys.exit("render: VIGIL_EDGE_WORKERS is auto or a number")
    outputs = ["vigil.conf", "vigil-locations.conf", "vigil-proxy.conf"]
    if standalone:
        outputs.append("nginx.conf")
        for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (out / "tmp" / temp).mkdir(parents=True, exist_ok=True)
    for name in outputs:
        (out / name).write_text(fill(f"{name}.in", fields))
    print(out / ("nginx.conf" if standalone else "vigil.conf"))


if __name__ == "__main__":
    main()
