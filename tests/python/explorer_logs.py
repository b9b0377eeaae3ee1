#!/usr/bin/env python3
"""Sends a fixed set of log records with the official OpenTelemetry Python SDK (OTLP/HTTP),
for the explorer's query tests: three services, every severity, typed attributes and two
resource levels, at known times in the last hour. Each record has an int attribute `seq`
(0…N-1), so a test can say which records a query must return.

usage: explorer_logs.py ENDPOINT TOKEN NOW_NS
Prints the records sent, as JSON: [{"seq", "service", "severity", "body", "time_ns", "attrs"}].
"""
import json
import sys

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk.resources import Resource

endpoint, token, now_ns = sys.argv[1], sys.argv[2], int(sys.argv[3])
MINUTE = 60_000_000_000

SEVERITIES = [
    (SeverityNumber.DEBUG, "DEBUG"), (SeverityNumber.INFO, "INFO"), (SeverityNumber.WARN, "WARN"),
    (SeverityNumber.ERROR, "ERROR"), (SeverityNumber.FATAL, "FATAL"),
]
ROUTES = ["/api/cart", "/api/checkout", "/health"]
BODIES = [
    "payment accepted for order {n}",
    "Connection reset by peer while calling inventory",
    "timeout after 250 ms talking to db-{n}",
    "cache miss for key cart:{n}",
    "user's session expired; 50% of tokens rotated",
]

sent = []
for service, pod in (("checkout", "checkout-7f9"), ("cart", "cart-1a2"), ("search", None)):
    attrs = {"service.name": service, "deployment.environment": "test"}
    if pod:
        attrs["k8s.pod.name"] = pod
    provider = LoggerProvider(resource=Resource.create(attrs))
    provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(
        endpoint=f"{endpoint}/v1/logs", headers={"x-vigil-token": token})))
    logger = provider.get_logger("explorer.test")
    for i in range(10):
        seq = len(sent)
        number, text = SEVERITIES[seq % len(SEVERITIES)]
        body = BODIES[seq % len(BODIES)].format(n=seq)
        record_attrs = {
            "seq": seq,
            "http.route": ROUTES[seq % len(ROUTES)],
            "http.status_code": 200 if seq % 4 else 503,
            "duration.ms": 12.5 * seq,
            "retry": seq % 2 == 0,
        }
        if seq % 7 == 0:
            record_attrs["user.id"] = f"u{seq}"
        time_ns = now_ns - (seq + 1) * MINUTE
        logger.emit(LogRecord(timestamp=time_ns, observed_timestamp=time_ns,
                              severity_number=number, severity_text=text, body=body,
                              attributes=record_attrs))
        sent.append({"seq": seq, "service": service, "severity": text, "body": body,
                     "time_ns": time_ns, "attrs": record_attrs, "pod": pod})
    provider.shutdown()

print(json.dumps(sent))
