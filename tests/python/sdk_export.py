#!/usr/bin/env python3
"""Exports logs, traces and metrics with the official OpenTelemetry Python SDK exporters.

usage: sdk_export.py grpc|http ENDPOINT TOKEN RUN_ID
ENDPOINT is host:port for gRPC and http://host:port for HTTP (gzip). Prints one JSON object
describing what was sent (ids are chosen by the SDK), so the test can check every stored field.
"""
import json
import sys

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceFlags

protocol, endpoint, token, run_id = sys.argv[1:5]
headers = {"x-vigil-token": token}

if protocol == "grpc":
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    kw = dict(endpoint=endpoint, insecure=True, headers=headers, compression=grpc.Compression.Gzip)
    span_exporter, log_exporter, metric_exporter = (
        OTLPSpanExporter(**kw), OTLPLogExporter(**kw), OTLPMetricExporter(**kw))
else:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    kw = dict(headers=headers, compression=Compression.Gzip)
    span_exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", **kw)
    log_exporter = OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", **kw)
    metric_exporter = OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", **kw)

resource = Resource.create({
    "service.name": "sdk-svc",
    "run.id": run_id,
    "res.int": 7,
    "res.double": 1.25,
    "res.bool": True,
})
T0 = 1_700_000_000_123_456_789
ATTRS = {"a.str": "v", "a.int": -42, "a.double": 2.5, "a.bool": False, "a.list": ["x", "y"]}

# Traces: a server span with an event, an error status and a link; a client child span.
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
tracer = tracer_provider.get_tracer("sdk.tracer", "1.2.3", attributes={"scope.attr": "s"})
parent = tracer.start_span("GET /checkout", kind=SpanKind.SERVER, start_time=T0, attributes=ATTRS)
parent.add_event("cache.miss", attributes={"key": "cart:1", "n": 3}, timestamp=T0 + 5)
parent.set_status(Status(StatusCode.ERROR, "boom"))
from opentelemetry import trace as trace_api
ctx = trace_api.set_span_in_context(parent)
other = tracer.start_span("other", start_time=T0)
other.end(end_time=T0 + 1)
child = tracer.start_span("SELECT cart", context=ctx, kind=SpanKind.CLIENT, start_time=T0 + 1000,
                          links=[Link(other.get_span_context(), {"link.attr": 9})])
child.end(end_time=T0 + 2000)
parent.end(end_time=T0 + 90_000)
tracer_provider.shutdown()

# Logs: UTF-8 body, explicit times, severity and trace context.
logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
logger = logger_provider.get_logger("sdk.logger", "0.9", attributes={"scope.attr": "l"})
pc = parent.get_span_context()
logger.emit(LogRecord(
    timestamp=T0 + 7, observed_timestamp=T0 + 8, severity_number=SeverityNumber.WARN,
    severity_text="WARN", body="héllo wörld ✓ 日本", attributes=ATTRS,
    trace_id=pc.trace_id, span_id=pc.span_id, trace_flags=TraceFlags(1)))
logger_provider.shutdown()

# Metrics: counter, up-down counter, gauge and histogram (default explicit buckets).
reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
meter = meter_provider.get_meter("sdk.meter", "3.0")
meter.create_counter("orders", unit="{order}", description="orders placed").add(5, {"route": "/a"})
meter.create_up_down_counter("queue.depth").add(-3, {"q": "x"})
meter.create_gauge("temperature", unit="Cel").set(21.5, {"room": "lab"})
histogram = meter.create_histogram("latency", unit="ms")
for v in (1, 7, 30):
    histogram.record(v, {"route": "/a"})
meter_provider.shutdown()

print(json.dumps({
    "trace_id": f"{pc.trace_id:032x}",
    "parent_span_id": f"{pc.span_id:016x}",
    "child_span_id": f"{child.get_span_context().span_id:016x}",
    "other_trace_id": f"{other.get_span_context().trace_id:032x}",
    "other_span_id": f"{other.get_span_context().span_id:016x}",
    "t0": T0,
}))
