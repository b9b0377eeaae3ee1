#!/usr/bin/env python3
"""Sends metrics with the official OpenTelemetry Python SDK (OTLP/HTTP, default cumulative
temporality) for the explorer's metric tests, in three exports (two flushes, and the one
shutdown makes):
  - gauge `queue.depth` {queue}: a=10, b=40, then a=30, b=40, then the same again;
  - counter `orders` {route}: /buy +5 then +7 (cumulative 5, 12, 12); /cart +1 then +1;
  - histogram `latency` (ms) {route=/buy}: 1, 7, 30, 200 (default buckets).
usage: explorer_metrics.py ENDPOINT TOKEN
"""
import sys

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

endpoint, token = sys.argv[1], sys.argv[2]
reader = PeriodicExportingMetricReader(
    OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", headers={"x-vigil-token": token}),
    export_interval_millis=3_600_000)
provider = MeterProvider(resource=Resource.create({"service.name": "shop"}), metric_readers=[reader])
meter = provider.get_meter("explorer.test")
depth = {"a": 10, "b": 40}
meter.create_observable_gauge(
    "queue.depth", callbacks=[lambda options: [Observation(v, {"queue": q}) for q, v in depth.items()]])
orders = meter.create_counter("orders", unit="{order}")
latency = meter.create_histogram("latency", unit="ms")

orders.add(5, {"route": "/buy"})
orders.add(1, {"route": "/cart"})
for v in (1, 7, 30, 200):
    latency.record(v, {"route": "/buy"})
reader.force_flush()
depth["a"] = 30
orders.add(7, {"route": "/buy"})
orders.add(1, {"route": "/cart"})
reader.force_flush()
provider.shutdown()
