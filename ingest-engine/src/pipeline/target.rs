//! Where accepted data goes: the ClickHouse tables and the worker's Redis streams. Every target
//! has its own write-ahead log (or, with the WAL off, in-memory batcher) and its own deliverer,
//! so a slow or unreachable destination delays only its own data.

use proto::events::StreamKind;
use storage::tables::Table;

/// A ClickHouse table or a Redis stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Destination {
    Table(Table),
    Stream(StreamKind),
}

/// One destination of accepted data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    /// ClickHouse `logs` (OTLP, Forward, Fluentd HTTP).
    Logs,
    /// ClickHouse `spans`.
    Spans,
    /// ClickHouse `metrics`.
    Metrics,
    /// ClickHouse `server_metrics` (server-agent reports).
    ServerMetrics,
    /// ClickHouse `incoming_requests` (heartbeats).
    IncomingRequests,
    /// Redis stream of server-agent reports, for the worker.
    ServerReportEvents,
    /// Redis stream of incoming requests, for the worker.
    IncomingRequestEvents,
    /// Redis stream of probe results, for the worker.
    ProbeResultEvents,
}

impl Target {
    /// Every target, in index order.
    pub(crate) const ALL: [Target; 8] = [
        Target::Logs,
        Target::Spans,
        Target::Metrics,
        Target::ServerMetrics,
        Target::IncomingRequests,
        Target::ServerReportEvents,
        Target::IncomingRequestEvents,
        Target::ProbeResultEvents,
    ];

    /// Where the target's data goes.
    pub(crate) fn destination(self) -> Destination {
        match self {
            Target::Logs => Destination::Table(Table::Logs),
            Target::Spans => Destination::Table(Table::Spans),
            Target::Metrics => Destination::Table(Table::Metrics),
            Target::ServerMetrics => Destination::Table(Table::ServerMetrics),
            Target::IncomingRequests => Destination::Table(Table::IncomingRequests),
            Target::ServerReportEvents => Destination::Stream(StreamKind::ServerReport),
            Target::IncomingRequestEvents => Destination::Stream(StreamKind::IncomingRequest),
            Target::ProbeResultEvents => Destination::Stream(StreamKind::ProbeResult),
        }
    }

    /// The table name, or the WAL directory name of a stream; also the `table` metric label.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::ServerReportEvents => "events-server_report",
            Target::IncomingRequestEvents => "events-incoming_request",
            Target::ProbeResultEvents => "events-probe_result",
            table => match table.destination() {
                Destination::Table(t) => t.name(),
                Destination::Stream(s) => s.name(),
            },
        }
    }

    /// The Redis stream name (after the configured prefix), for event targets.
    pub(crate) fn stream(self) -> Option<&'static str> {
        match self.destination() {
            Destination::Stream(s) => Some(s.name()),
            Destination::Table(_) => None,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_order_matches_all() {
        for (i, t) in Target::ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
        }
    }
}
