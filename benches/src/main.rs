//! `vigil-load`: drives a Vigil ingest engine with generated OTLP traffic.

use std::io::Write;
use std::time::Duration;

use benches::load::{self, LoadConfig, Protocol};
use benches::payload::Signal;
use clap::Parser;

/// Load generator for vigil-ingest.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Signal to send.
    #[arg(long, value_enum, default_value = "logs")]
    signal: Signal,
    /// Transport.
    #[arg(long, value_enum, default_value = "grpc")]
    protocol: Protocol,
    /// `host:port` of the gRPC (or HTTP) listener.
    #[arg(long, default_value = "127.0.0.1:4317")]
    target: String,
    /// Ingestion token.
    #[arg(
        long,
        env = "VIGIL_LOAD_TOKEN",
        required_unless_present = "write_payloads"
    )]
    token: Option<String>,
    /// Write one gRPC-framed request per signal (`logs.grpc`, `traces.grpc`, `metrics.grpc`,
    /// with `--records-per-request` records from `--seed`) into this directory and exit: the
    /// request bodies `benches/e2e.sh` sends with h2load.
    #[arg(long, value_name = "DIR")]
    write_payloads: Option<std::path::PathBuf>,
    /// Records per request.
    #[arg(long, default_value_t = 1000)]
    records_per_request: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Target records per second (omit to send flat out).
    #[arg(long)]
    rate: Option<f64>,
    /// Run time in seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many requests.
    #[arg(long)]
    requests: Option<u64>,
    /// Payload generator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Distinct payloads to cycle through.
    #[arg(long, default_value_t = 8)]
    variants: usize,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

/// Writes the framed requests of every signal into `dir`.
fn write_payloads(dir: &std::path::Path, records: usize, seed: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (signal, name) in [
        (Signal::Logs, "logs"),
        (Signal::Traces, "traces"),
        (Signal::Metrics, "metrics"),
    ] {
        let message = benches::payload::generate(signal, records, seed);
        // A unary gRPC message: uncompressed flag, big-endian length, the message.
        let mut framed = Vec::with_capacity(message.len() + 5);
        framed.push(0);
        framed.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
        framed.extend_from_slice(&message);
        std::fs::write(dir.join(format!("{name}.grpc")), framed)?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.write_payloads {
        return write_payloads(dir, args.records_per_request, args.seed);
    }
    let config = LoadConfig {
        signal: args.signal,
        protocol: args.protocol,
        target: args.target,
        token: args.token.unwrap_or_default(),
        records_per_request: args.records_per_request,
        concurrency: args.concurrency,
        rate: args.rate,
        duration: Duration::from_secs_f64(args.duration),
        max_requests: args.requests,
        seed: args.seed,
        variants: args.variants,
        timeout: Duration::from_secs_f64(args.timeout),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let summary = runtime.block_on(load::run(config, |elapsed, records, failed| {
        let rate = records as f64 / elapsed.as_secs_f64();
        let mut err = std::io::stderr().lock();
        let _ignored = write!(
            err,
            "\r[{:>5.1}s] {records} records  {rate:>10.0}/s  {failed} failed   ",
            elapsed.as_secs_f64()
        );
        let _ignored = err.flush();
    }))?;
    let mut out = std::io::stdout().lock();
    writeln!(out)?;
    writeln!(out, "requests ok      {}", summary.ok_requests)?;
    writeln!(out, "records ok       {}", summary.ok_records)?;
    writeln!(
        out,
        "elapsed          {:.2}s",
        summary.elapsed.as_secs_f64()
    )?;
    writeln!(out, "records/s        {:.0}", summary.records_per_second())?;
    let (p50, p99, max) = summary.latency;
    writeln!(out, "latency p50/p99/max  {p50:?} / {p99:?} / {max:?}")?;
    if summary.errors.is_empty() {
        writeln!(out, "errors           none")?;
    }
    for (kind, n) in &summary.errors {
        writeln!(out, "errors {kind:<12} {n}")?;
    }
    Ok(())
}
