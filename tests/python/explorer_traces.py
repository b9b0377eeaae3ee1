#!/usr/bin/env python3
"""Sends three traces with the official OpenTelemetry Python SDK (OTLP/HTTP) for the
explorer's trace tests, at known times in the last hour:
  - checkout: frontend "GET /checkout" (server, 300 ms) → checkout "charge" (server, 200 ms)
    → checkout "INSERT payment" (client, 50 ms, status error, an exception event);
  - health: frontend "GET /health" (server, 5 ms);
  - batch: worker "nightly batch" (internal root, 2 s) with 1,199 child spans "item N".
usage: explorer_traces.py ENDPOINT TOKEN NOW_NS
Prints the trace and span ids as JSON.
"""
import json
import sys

from opentelemetry import trace as trace_api
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

endpoint, token, now_ns = sys.argv[1], sys.argv[2], int(sys.argv[3])
MS = 1_000_000


def provider(service):
    p = TracerProvider(resource=Resource.create({"service.name": service, "host.name": "h1"}))
    p.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        endpoint=f"{endpoint}/v1/traces", headers={"x-vigil-token": token}),
        max_export_batch_size=512))
    return p


frontend, checkout, worker = provider("frontend"), provider("checkout"), provider("worker")
out = {}

t0 = now_ns - 30 * 60_000 * MS
root = frontend.get_tracer("fe").start_span(
    "GET /checkout", kind=SpanKind.SERVER, start_time=t0,
    attributes={"http.route": "/checkout", "http.status_code": 500})
ctx = trace_api.set_span_in_context(root)
charge = checkout.get_tracer("co").start_span(
    "charge", context=ctx, kind=SpanKind.SERVER, start_time=t0 + 50 * MS,
    attributes={"amount": 42.5})
ctx2 = trace_api.set_span_in_context(charge)
insert = checkout.get_tracer("co").start_span(
    "INSERT payment", context=ctx2, kind=SpanKind.CLIENT, start_time=t0 + 100 * MS,
    attributes={"db.system": "postgresql"})
insert.add_event("exception", {"exception.type": "UniqueViolation",
                               "exception.message": "duplicate key 7"}, timestamp=t0 + 140 * MS)
insert.set_status(Status(StatusCode.ERROR, "duplicate key"))
insert.end(end_time=t0 + 150 * MS)
charge.end(end_time=t0 + 250 * MS)
root.end(end_time=t0 + 300 * MS)
out["checkout"] = {"trace_id": f"{root.get_span_context().trace_id:032x}",
                   "root": f"{root.get_span_context().span_id:016x}",
                   "charge": f"{charge.get_span_context().span_id:016x}",
                   "insert": f"{insert.get_span_context().span_id:016x}"}

t1 = now_ns - 20 * 60_000 * MS
health = frontend.get_tracer("fe").start_span("GET /health", kind=SpanKind.SERVER, start_time=t1)
health.end(end_time=t1 + 5 * MS)
out["health"] = {"trace_id": f"{health.get_span_context().trace_id:032x}"}

t2 = now_ns - 10 * 60_000 * MS
batch = worker.get_tracer("w").start_span("nightly batch", kind=SpanKind.INTERNAL, start_time=t2)
bctx = trace_api.set_span_in_context(batch)
for i in range(1199):
    item = worker.get_tracer("w").start_span(f"item {i}", context=bctx, start_time=t2 + (i + 1) * MS)
    item.end(end_time=t2 + (i + 1) * MS + MS // 2)
batch.end(end_time=t2 + 2000 * MS)
out["batch"] = {"trace_id": f"{batch.get_span_context().trace_id:032x}"}

for p in (frontend, checkout, worker):
    p.shutdown()
print(json.dumps(out))
