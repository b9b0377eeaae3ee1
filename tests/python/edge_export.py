#!/usr/bin/env python3
"""Sends logs and spans with the official OpenTelemetry Python SDK exporters over TLS (through
the nginx in front of Vigil), verifying the server against a CA file; or, with `unavailable`,
makes one raw OTLP/gRPC Export call and prints the status code the client got.

usage: edge_export.py grpc|http ENDPOINT CA_FILE TOKEN RUN_ID COUNT
       edge_export.py unavailable HOST:PORT CA_FILE
ENDPOINT is https://host:port. COUNT log records (body `<RUN_ID> <i>`) and COUNT spans (name
`<RUN_ID> <i>`) go out in exports of at most 25. Exits non-zero if the SDK reports a failure.
"""
import logging
import os
import sys

import grpc

mode = sys.argv[1]

if mode == "unavailable":
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

    target, ca = sys.argv[2], sys.argv[3]
    channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(open(ca, "rb").read()))
    try:
        logs_service_pb2_grpc.LogsServiceStub(channel).Export(
            logs_service_pb2.ExportLogsServiceRequest(), timeout=10)
        print("OK")
    except grpc.RpcError as error:
        print(error.code().name)
    sys.exit(0)

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

endpoint, ca, token, run_id, count = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
headers = {"x-vigil-token": token}
# requests prefers these over the exporter's certificate_file: the CA given must be the one used.
for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(name, None)

failures = []


class Failures(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            failures.append(record.getMessage())


logging.getLogger("opentelemetry").addHandler(Failures())

if mode == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    credentials = grpc.ssl_channel_credentials(open(ca, "rb").read())
    kw = dict(endpoint=endpoint, credentials=credentials, headers=headers)
    log_exporter, span_exporter = OTLPLogExporter(**kw), OTLPSpanExporter(**kw)
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    log_exporter = OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", headers=headers,
                                   certificate_file=ca)
    span_exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers=headers,
                                     certificate_file=ca)

resource = Resource.create({"service.name": "edge", "run.id": run_id})
batch = dict(max_export_batch_size=25, schedule_delay_millis=50)

logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter, **batch))
logger = logger_provider.get_logger("edge")
for i in range(count):
    logger.emit(LogRecord(severity_number=SeverityNumber.INFO, body=f"{run_id} {i}"))
logger_provider.shutdown()

tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter, **batch))
tracer = tracer_provider.get_tracer("edge")
for i in range(count):
    tracer.start_span(f"{run_id} {i}").end()
tracer_provider.shutdown()

if failures:
    sys.exit("the SDK reported failures: " + "; ".join(failures))
