//! Server-agent reports (OneUptime's infrastructure-agent JSON, `serverMonitorResponse`) →
//! `server_metrics` rows and one event for the worker.
//!
//! Every number the agent may send becomes one row (`name`, `subject`, `value`, `unit`), so a
//! dashboard queries CPU, a core, a disk or a process the same way. Fields the agent leaves out
//! give no row; a field of the wrong type refuses the report (400) and stores nothing.

use serde::Deserialize;
use serde_json::Value;

use crate::auth::MonitorRef;
use crate::otlp::{DecodeError, ValueType};
use proto::events::{Event, field};
use storage::compression::Compression;
use storage::native::put_bytes;
use storage::tables::ServerMetricsBlock;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    hostname: Option<String>,
    basic_infrastructure_metrics: Option<Basic>,
    processes: Option<Vec<Process>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Basic {
    cpu_metrics: Option<Cpu>,
    memory_metrics: Option<Memory>,
    disk_metrics: Option<Vec<Disk>>,
    network_metrics: Option<Network>,
    load_metrics: Option<Load>,
    host_metrics: Option<Host>,
}

type Num = Option<f64>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cpu {
    percent_used: Num,
    cores: Num,
    per_core_percent: Option<Vec<f64>>,
    time_user_percent: Num,
    time_system_percent: Num,
    time_idle_percent: Num,
    time_io_wait_percent: Num,
    time_steal_percent: Num,
    time_nice_percent: Num,
    time_irq_percent: Num,
    time_soft_irq_percent: Num,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Memory {
    total: Num,
    free: Num,
    used: Num,
    percent_used: Num,
    percent_free: Num,
    available: Num,
    buffers: Num,
    cached: Num,
    swap_total: Num,
    swap_used: Num,
    swap_free: Num,
    swap_percent_used: Num,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Disk {
    disk_path: Option<String>,
    device: Option<String>,
    fstype: Option<String>,
    total: Num,
    free: Num,
    used: Num,
    percent_used: Num,
    percent_free: Num,
    read_bytes: Num,
    write_bytes: Num,
    read_count: Num,
    write_count: Num,
    io_time_ms: Num,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Network {
    interfaces: Option<Vec<Interface>>,
    total_bytes_received: Num,
    total_bytes_sent: Num,
    total_packets_received: Num,
    total_packets_sent: Num,
    connections_established: Num,
    connections_listen: Num,
    connections_total: Num,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Interface {
    interface_name: Option<String>,
    bytes_received: Num,
    bytes_sent: Num,
    packets_received: Num,
    packets_sent: Num,
    errors_in: Num,
    errors_out: Num,
    drops_in: Num,
    drops_out: Num,
}

#[derive(Deserialize)]
struct Load {
    load1: Num,
    load5: Num,
    load15: Num,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Host {
    platform: Option<String>,
    platform_family: Option<String>,
    platform_version: Option<String>,
    kernel_version: Option<String>,
    kernel_arch: Option<String>,
    os: Option<String>,
    uptime_seconds: Num,
    boot_time: Num,
    host_id: Option<String>,
    virtualization_system: Option<String>,
    virtualization_role: Option<String>,
    num_processes: Num,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Process {
    pid: Num,
    name: Option<String>,
    command: Option<String>,
    cpu_percent: Num,
    memory_bytes: Num,
    memory_percent: Num,
    status: Option<String>,
    threads: Num,
    create_time_ms: Num,
    username: Option<String>,
}

/// A decoded report: its rows and its event.
pub(crate) struct Encoded {
    /// The rows as a framed Native block.
    pub(crate) framed: Vec<u8>,
    /// Size of the unframed block.
    pub(crate) raw_len: usize,
    pub(crate) rows: u64,
    /// The event record for the worker.
    pub(crate) event: Vec<u8>,
}

/// Appends the rows of one report.
struct Writer<'a> {
    block: &'a mut ServerMetricsBlock,
    project: &'a [u8],
    monitor: &'a [u8],
    hostname: &'a [u8],
    now: u64,
}

/// A string attribute, or a number one.
enum Attr<'a> {
    Str(&'a Option<String>),
    Num(Num),
}

impl Writer<'_> {
    fn row(
        &mut self,
        name: &str,
        subject: &str,
        value: Num,
        unit: &str,
        attrs: &[(&str, Attr<'_>)],
    ) {
        let Some(value) = value.filter(|v| v.is_finite()) else {
            return;
        };
        let b = &mut *self.block;
        b.project_id.push(self.project);
        b.monitor_id.push(self.monitor);
        b.hostname.push(self.hostname);
        b.time.push(crate::otlp::seconds(self.now));
        b.time_unix_nano.push(self.now);
        b.name.push(name.as_bytes());
        b.subject.push(subject.as_bytes());
        b.value.push(value);
        b.unit.push(unit.as_bytes());
        let mut n = 0;
        for (key, attr) in attrs {
            let (text, ty) = match attr {
                Attr::Str(Some(s)) => (s.clone(), ValueType::String),
                Attr::Num(Some(v)) if v.fract() == 0.0 && v.abs() < 9.0e15 => {
                    (format!("{}", *v as i64), ValueType::Int)
                }
                Attr::Num(Some(v)) => (v.to_string(), ValueType::Double),
                _ => continue,
            };
            put_bytes(&mut b.attributes.keys, key.as_bytes());
            put_bytes(&mut b.attributes.values, text.as_bytes());
            b.attributes.types.push(ty as u8);
            n += 1;
        }
        b.attributes.close_row(n);
        b.rows += 1;
    }

    fn report(&mut self, report: &Report, max_processes: usize) {
        if let Some(basic) = &report.basic_infrastructure_metrics {
            self.cpu(basic.cpu_metrics.as_ref());
            self.memory(basic.memory_metrics.as_ref());
            for disk in basic.disk_metrics.iter().flatten() {
                self.disk(disk);
            }
            self.network(basic.network_metrics.as_ref());
            if let Some(l) = &basic.load_metrics {
                self.row("load.1m", "", l.load1, "", &[]);
                self.row("load.5m", "", l.load5, "", &[]);
                self.row("load.15m", "", l.load15, "", &[]);
            }
            self.host(basic.host_metrics.as_ref());
        }
        // The busiest processes first: their rows are what dashboards show.
        let mut processes: Vec<&Process> = report.processes.iter().flatten().collect();
        processes.sort_by(|a, b| {
            let key = |p: &Process| p.cpu_percent.unwrap_or(0.0);
            key(b).total_cmp(&key(a))
        });
        for p in processes.into_iter().take(max_processes) {
            let pid = p.pid.map(|v| format!("{}", v as i64)).unwrap_or_default();
            let attrs = [
                ("name", Attr::Str(&p.name)),
                ("command", Attr::Str(&p.command)),
                ("status", Attr::Str(&p.status)),
                ("username", Attr::Str(&p.username)),
                ("threads", Attr::Num(p.threads)),
                ("create_time_ms", Attr::Num(p.create_time_ms)),
            ];
            self.row(
                "process.cpu_percent",
                &pid,
                p.cpu_percent,
                "percent",
                &attrs,
            );
            self.row(
                "process.memory_bytes",
                &pid,
                p.memory_bytes,
                "bytes",
                &attrs,
            );
            self.row(
                "process.memory_percent",
                &pid,
                p.memory_percent,
                "percent",
                &attrs,
            );
        }
    }

    fn cpu(&mut self, cpu: Option<&Cpu>) {
        let Some(c) = cpu else { return };
        for (name, value) in [
            ("cpu.percent_used", c.percent_used),
            ("cpu.time_user_percent", c.time_user_percent),
            ("cpu.time_system_percent", c.time_system_percent),
            ("cpu.time_idle_percent", c.time_idle_percent),
            ("cpu.time_iowait_percent", c.time_io_wait_percent),
            ("cpu.time_steal_percent", c.time_steal_percent),
            ("cpu.time_nice_percent", c.time_nice_percent),
            ("cpu.time_irq_percent", c.time_irq_percent),
            ("cpu.time_softirq_percent", c.time_soft_irq_percent),
        ] {
            self.row(name, "", value, "percent", &[]);
        }
        self.row("cpu.cores", "", c.cores, "count", &[]);
        for (i, v) in c.per_core_percent.iter().flatten().enumerate() {
            self.row(
                "cpu.core.percent_used",
                &i.to_string(),
                Some(*v),
                "percent",
                &[],
            );
        }
    }

    fn memory(&mut self, memory: Option<&Memory>) {
        let Some(m) = memory else { return };
        for (name, value, unit) in [
            ("memory.total_bytes", m.total, "bytes"),
            ("memory.free_bytes", m.free, "bytes"),
            ("memory.used_bytes", m.used, "bytes"),
            ("memory.available_bytes", m.available, "bytes"),
            ("memory.buffers_bytes", m.buffers, "bytes"),
            ("memory.cached_bytes", m.cached, "bytes"),
            ("memory.percent_used", m.percent_used, "percent"),
            ("memory.percent_free", m.percent_free, "percent"),
            ("swap.total_bytes", m.swap_total, "bytes"),
            ("swap.used_bytes", m.swap_used, "bytes"),
            ("swap.free_bytes", m.swap_free, "bytes"),
            ("swap.percent_used", m.swap_percent_used, "percent"),
        ] {
            self.row(name, "", value, unit, &[]);
        }
    }

    fn disk(&mut self, d: &Disk) {
        let path = d.disk_path.as_deref().unwrap_or("");
        let attrs = [
            ("device", Attr::Str(&d.device)),
            ("fstype", Attr::Str(&d.fstype)),
        ];
        for (name, value, unit) in [
            ("disk.total_bytes", d.total, "bytes"),
            ("disk.free_bytes", d.free, "bytes"),
            ("disk.used_bytes", d.used, "bytes"),
            ("disk.percent_used", d.percent_used, "percent"),
            ("disk.percent_free", d.percent_free, "percent"),
            ("disk.read_bytes", d.read_bytes, "bytes"),
            ("disk.write_bytes", d.write_bytes, "bytes"),
            ("disk.read_count", d.read_count, "count"),
            ("disk.write_count", d.write_count, "count"),
            ("disk.io_time_ms", d.io_time_ms, "milliseconds"),
        ] {
            self.row(name, path, value, unit, &attrs);
        }
    }

    fn network(&mut self, network: Option<&Network>) {
        let Some(n) = network else { return };
        for (name, value, unit) in [
            ("network.bytes_received", n.total_bytes_received, "bytes"),
            ("network.bytes_sent", n.total_bytes_sent, "bytes"),
            (
                "network.packets_received",
                n.total_packets_received,
                "count",
            ),
            ("network.packets_sent", n.total_packets_sent, "count"),
            (
                "network.connections_established",
                n.connections_established,
                "count",
            ),
            ("network.connections_listen", n.connections_listen, "count"),
            ("network.connections_total", n.connections_total, "count"),
        ] {
            self.row(name, "", value, unit, &[]);
        }
        for i in n.interfaces.iter().flatten() {
            let subject = i.interface_name.as_deref().unwrap_or("");
            for (name, value, unit) in [
                ("network.bytes_received", i.bytes_received, "bytes"),
                ("network.bytes_sent", i.bytes_sent, "bytes"),
                ("network.packets_received", i.packets_received, "count"),
                ("network.packets_sent", i.packets_sent, "count"),
                ("network.errors_in", i.errors_in, "count"),
                ("network.errors_out", i.errors_out, "count"),
                ("network.drops_in", i.drops_in, "count"),
                ("network.drops_out", i.drops_out, "count"),
            ] {
                self.row(name, subject, value, unit, &[]);
            }
        }
    }

    fn host(&mut self, host: Option<&Host>) {
        let Some(h) = host else { return };
        let attrs = [
            ("platform", Attr::Str(&h.platform)),
            ("platform_family", Attr::Str(&h.platform_family)),
            ("platform_version", Attr::Str(&h.platform_version)),
            ("kernel_version", Attr::Str(&h.kernel_version)),
            ("kernel_arch", Attr::Str(&h.kernel_arch)),
            ("os", Attr::Str(&h.os)),
            ("host_id", Attr::Str(&h.host_id)),
            ("virtualization_system", Attr::Str(&h.virtualization_system)),
            ("virtualization_role", Attr::Str(&h.virtualization_role)),
            ("boot_time", Attr::Num(h.boot_time)),
        ];
        // Host facts ride on the uptime row.
        self.row(
            "host.uptime_seconds",
            "",
            h.uptime_seconds,
            "seconds",
            &attrs,
        );
        self.row("host.processes", "", h.num_processes, "count", &[]);
    }
}

/// Decodes one agent request body for `monitor`: the rows (framed with `compression`) and the
/// event. The key in the body (`secretKey`) is dropped from the event: secrets never leave.
pub(crate) fn decode(
    body: &[u8],
    monitor: &MonitorRef,
    now: u64,
    max_processes: usize,
    compression: Compression,
) -> Result<Encoded, DecodeError> {
    let mut value: Value = serde_json::from_slice(body)
        .map_err(|e| DecodeError::new(format!("invalid JSON body: {e}")))?;
    let Value::Object(top) = &mut value else {
        return Err(DecodeError::new("the body must be a JSON object"));
    };
    // OneUptime's agent wraps the report; a bare report is taken too.
    let mut inner = match top.remove("serverMonitorResponse") {
        Some(inner) => inner,
        None => value,
    };
    let Value::Object(fields) = &mut inner else {
        return Err(DecodeError::new(
            "`serverMonitorResponse` must be an object",
        ));
    };
    fields.remove("secretKey");
    if !fields.contains_key("basicInfrastructureMetrics") && !fields.contains_key("processes") {
        return Err(DecodeError::new(
            "not a server-agent report: `serverMonitorResponse.basicInfrastructureMetrics` is missing",
        ));
    }
    let report = Report::deserialize(&inner)
        .map_err(|e| DecodeError::new(format!("invalid server-agent report: {e}")))?;
    let hostname = report.hostname.clone().unwrap_or_default();
    let mut block = ServerMetricsBlock::default();
    Writer {
        block: &mut block,
        project: monitor.project.as_bytes(),
        monitor: monitor.monitor.as_bytes(),
        hostname: hostname.as_bytes(),
        now,
    }
    .report(&report, max_processes);
    let mut raw = Vec::with_capacity(block.byte_len() + 1024);
    block.encode(&mut raw);
    let framed = storage::compression::framed(&raw, compression);
    let mut event = Event::new(&monitor.project, &monitor.monitor, now);
    event.field(field::HOSTNAME, hostname.as_bytes());
    event.field(
        field::REPORT,
        &serde_json::to_vec(&inner).unwrap_or_default(),
    );
    Ok(Encoded {
        framed,
        raw_len: raw.len(),
        rows: block.rows,
        event: event.finish(),
    })
}
