//! Framing Native batches for ClickHouse (`decompress=1`): LZ4 and uncompressed.

#![allow(clippy::unwrap_used)] // bench set-up on fixed, valid input

use benches::payload::{self, Signal};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ingest_engine::Compression;

fn frame(c: &mut Criterion) {
    let request = payload::generate(Signal::Logs, 1000, 7);
    let block = ingest_engine::otlp::decode(Signal::Logs.engine(), &request, "project")
        .unwrap()
        .native;
    // A batch of 8 requests, like a busy table's INSERT.
    let batch: Vec<u8> = (0..8).flat_map(|_| block.iter().copied()).collect();
    let mut group = c.benchmark_group("clickhouse_frame");
    group.throughput(Throughput::Elements(8000));
    for (name, compression) in [("lz4", Compression::Lz4), ("none", Compression::None)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(batch.len());
                storage::compression::frame(&batch, compression, &mut out);
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
