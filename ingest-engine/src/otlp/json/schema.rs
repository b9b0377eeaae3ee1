//! The OTLP message table that drives the JSON transcoder: field names, numbers and kinds of
//! every message an export request can hold, and the enum names OTLP/JSON may use.

#[derive(Clone, Copy)]
pub(super) enum Kind {
    Msg(&'static Msg),
    Str,
    HexId,
    Base64,
    Fixed64,
    Sfixed64,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Enum(fn(&str) -> Option<i32>),
    Double,
    Bool,
    Fixed32,
}

pub(super) struct Field {
    pub(super) name: &'static str,
    pub(super) number: u32,
    pub(super) kind: Kind,
}

pub(super) struct Msg {
    pub(super) fields: &'static [Field],
}

const fn f(name: &'static str, number: u32, kind: Kind) -> Field {
    Field { name, number, kind }
}

pub(super) fn severity(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("SEVERITY_NUMBER_")?;
    if rest == "UNSPECIFIED" {
        return Some(0);
    }
    let (base, step) = match rest.as_bytes().last() {
        Some(d @ b'2'..=b'4') => (&rest[..rest.len() - 1], i32::from(d - b'1')),
        _ => (rest, 0),
    };
    let level = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"]
        .iter()
        .position(|l| *l == base)?;
    Some(level as i32 * 4 + 1 + step)
}

pub(super) fn span_kind(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("SPAN_KIND_")?;
    [
        "UNSPECIFIED",
        "INTERNAL",
        "SERVER",
        "CLIENT",
        "PRODUCER",
        "CONSUMER",
    ]
    .iter()
    .position(|k| *k == rest)
    .map(|p| p as i32)
}

pub(super) fn status_code(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("STATUS_CODE_")?;
    ["UNSET", "OK", "ERROR"]
        .iter()
        .position(|k| *k == rest)
        .map(|p| p as i32)
}

pub(super) fn temporality(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("AGGREGATION_TEMPORALITY_")?;
    ["UNSPECIFIED", "DELTA", "CUMULATIVE"]
        .iter()
        .position(|k| *k == rest)
        .map(|p| p as i32)
}

static ANY_VALUE: Msg = Msg {
    fields: &[
        f("stringValue", 1, Kind::Str),
        f("boolValue", 2, Kind::Bool),
        f("intValue", 3, Kind::Int64),
        f("doubleValue", 4, Kind::Double),
        f("arrayValue", 5, Kind::Msg(&ARRAY_VALUE)),
        f("kvlistValue", 6, Kind::Msg(&KV_LIST)),
        f("bytesValue", 7, Kind::Base64),
    ],
};
static ARRAY_VALUE: Msg = Msg {
    fields: &[f("values", 1, Kind::Msg(&ANY_VALUE))],
};
static KV_LIST: Msg = Msg {
    fields: &[f("values", 1, Kind::Msg(&KEY_VALUE))],
};
static KEY_VALUE: Msg = Msg {
    fields: &[f("key", 1, Kind::Str), f("value", 2, Kind::Msg(&ANY_VALUE))],
};
static RESOURCE: Msg = Msg {
    fields: &[
        f("attributes", 1, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 2, Kind::Uint32),
    ],
};
static SCOPE: Msg = Msg {
    fields: &[
        f("name", 1, Kind::Str),
        f("version", 2, Kind::Str),
        f("attributes", 3, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 4, Kind::Uint32),
    ],
};

pub(super) static LOGS_REQUEST: Msg = Msg {
    fields: &[f("resourceLogs", 1, Kind::Msg(&RESOURCE_LOGS))],
};
static RESOURCE_LOGS: Msg = Msg {
    fields: &[
        f("resource", 1, Kind::Msg(&RESOURCE)),
        f("scopeLogs", 2, Kind::Msg(&SCOPE_LOGS)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SCOPE_LOGS: Msg = Msg {
    fields: &[
        f("scope", 1, Kind::Msg(&SCOPE)),
        f("logRecords", 2, Kind::Msg(&LOG_RECORD)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static LOG_RECORD: Msg = Msg {
    fields: &[
        f("timeUnixNano", 1, Kind::Fixed64),
        f("severityNumber", 2, Kind::Enum(severity)),
        f("severityText", 3, Kind::Str),
        f("body", 5, Kind::Msg(&ANY_VALUE)),
        f("attributes", 6, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 7, Kind::Uint32),
        f("flags", 8, Kind::Fixed32),
        f("traceId", 9, Kind::HexId),
        f("spanId", 10, Kind::HexId),
        f("observedTimeUnixNano", 11, Kind::Fixed64),
        f("eventName", 12, Kind::Str),
    ],
};

pub(super) static TRACES_REQUEST: Msg = Msg {
    fields: &[f("resourceSpans", 1, Kind::Msg(&RESOURCE_SPANS))],
};
static RESOURCE_SPANS: Msg = Msg {
    fields: &[
        f("resource", 1, Kind::Msg(&RESOURCE)),
        f("scopeSpans", 2, Kind::Msg(&SCOPE_SPANS)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SCOPE_SPANS: Msg = Msg {
    fields: &[
        f("scope", 1, Kind::Msg(&SCOPE)),
        f("spans", 2, Kind::Msg(&SPAN)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SPAN: Msg = Msg {
    fields: &[
        f("traceId", 1, Kind::HexId),
        f("spanId", 2, Kind::HexId),
        f("traceState", 3, Kind::Str),
        f("parentSpanId", 4, Kind::HexId),
        f("name", 5, Kind::Str),
        f("kind", 6, Kind::Enum(span_kind)),
        f("startTimeUnixNano", 7, Kind::Fixed64),
        f("endTimeUnixNano", 8, Kind::Fixed64),
        f("attributes", 9, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 10, Kind::Uint32),
        f("events", 11, Kind::Msg(&SPAN_EVENT)),
        f("droppedEventsCount", 12, Kind::Uint32),
        f("links", 13, Kind::Msg(&SPAN_LINK)),
        f("droppedLinksCount", 14, Kind::Uint32),
        f("status", 15, Kind::Msg(&STATUS)),
        f("flags", 16, Kind::Fixed32),
    ],
};
static SPAN_EVENT: Msg = Msg {
    fields: &[
        f("timeUnixNano", 1, Kind::Fixed64),
        f("name", 2, Kind::Str),
        f("attributes", 3, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 4, Kind::Uint32),
    ],
};
static SPAN_LINK: Msg = Msg {
    fields: &[
        f("traceId", 1, Kind::HexId),
        f("spanId", 2, Kind::HexId),
        f("traceState", 3, Kind::Str),
        f("attributes", 4, Kind::Msg(&KEY_VALUE)),
        f("droppedAttributesCount", 5, Kind::Uint32),
        f("flags", 6, Kind::Fixed32),
    ],
};
static STATUS: Msg = Msg {
    fields: &[
        f("message", 2, Kind::Str),
        f("code", 3, Kind::Enum(status_code)),
    ],
};

pub(super) static METRICS_REQUEST: Msg = Msg {
    fields: &[f("resourceMetrics", 1, Kind::Msg(&RESOURCE_METRICS))],
};
static RESOURCE_METRICS: Msg = Msg {
    fields: &[
        f("resource", 1, Kind::Msg(&RESOURCE)),
        f("scopeMetrics", 2, Kind::Msg(&SCOPE_METRICS)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static SCOPE_METRICS: Msg = Msg {
    fields: &[
        f("scope", 1, Kind::Msg(&SCOPE)),
        f("metrics", 2, Kind::Msg(&METRIC)),
        f("schemaUrl", 3, Kind::Str),
    ],
};
static METRIC: Msg = Msg {
    fields: &[
        f("name", 1, Kind::Str),
        f("description", 2, Kind::Str),
        f("unit", 3, Kind::Str),
        f("gauge", 5, Kind::Msg(&GAUGE)),
        f("sum", 7, Kind::Msg(&SUM)),
        f("histogram", 9, Kind::Msg(&HISTOGRAM)),
        f("exponentialHistogram", 10, Kind::Msg(&EXP_HISTOGRAM)),
        f("summary", 11, Kind::Msg(&SUMMARY)),
        f("metadata", 12, Kind::Msg(&KEY_VALUE)),
    ],
};
static GAUGE: Msg = Msg {
    fields: &[f("dataPoints", 1, Kind::Msg(&NUMBER_POINT))],
};
static SUM: Msg = Msg {
    fields: &[
        f("dataPoints", 1, Kind::Msg(&NUMBER_POINT)),
        f("aggregationTemporality", 2, Kind::Enum(temporality)),
        f("isMonotonic", 3, Kind::Bool),
    ],
};
static HISTOGRAM: Msg = Msg {
    fields: &[
        f("dataPoints", 1, Kind::Msg(&HISTOGRAM_POINT)),
        f("aggregationTemporality", 2, Kind::Enum(temporality)),
    ],
};
static EXP_HISTOGRAM: Msg = Msg {
    fields: &[
        f("dataPoints", 1, Kind::Msg(&EXP_HISTOGRAM_POINT)),
        f("aggregationTemporality", 2, Kind::Enum(temporality)),
    ],
};
static SUMMARY: Msg = Msg {
    fields: &[f("dataPoints", 1, Kind::Msg(&SUMMARY_POINT))],
};
static NUMBER_POINT: Msg = Msg {
    fields: &[
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("asDouble", 4, Kind::Double),
        f("exemplars", 5, Kind::Msg(&EXEMPLAR)),
        f("asInt", 6, Kind::Sfixed64),
        f("attributes", 7, Kind::Msg(&KEY_VALUE)),
        f("flags", 8, Kind::Uint32),
    ],
};
static HISTOGRAM_POINT: Msg = Msg {
    fields: &[
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("count", 4, Kind::Fixed64),
        f("sum", 5, Kind::Double),
        f("bucketCounts", 6, Kind::Fixed64),
        f("explicitBounds", 7, Kind::Double),
        f("exemplars", 8, Kind::Msg(&EXEMPLAR)),
        f("attributes", 9, Kind::Msg(&KEY_VALUE)),
        f("flags", 10, Kind::Uint32),
        f("min", 11, Kind::Double),
        f("max", 12, Kind::Double),
    ],
};
static EXP_HISTOGRAM_POINT: Msg = Msg {
    fields: &[
        f("attributes", 1, Kind::Msg(&KEY_VALUE)),
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("count", 4, Kind::Fixed64),
        f("sum", 5, Kind::Double),
        f("scale", 6, Kind::Sint32),
        f("zeroCount", 7, Kind::Fixed64),
        f("positive", 8, Kind::Msg(&BUCKETS)),
        f("negative", 9, Kind::Msg(&BUCKETS)),
        f("flags", 10, Kind::Uint32),
        f("exemplars", 11, Kind::Msg(&EXEMPLAR)),
        f("min", 12, Kind::Double),
        f("max", 13, Kind::Double),
        f("zeroThreshold", 14, Kind::Double),
    ],
};
static BUCKETS: Msg = Msg {
    fields: &[
        f("offset", 1, Kind::Sint32),
        f("bucketCounts", 2, Kind::Uint64),
    ],
};
static SUMMARY_POINT: Msg = Msg {
    fields: &[
        f("startTimeUnixNano", 2, Kind::Fixed64),
        f("timeUnixNano", 3, Kind::Fixed64),
        f("count", 4, Kind::Fixed64),
        f("sum", 5, Kind::Double),
        f("quantileValues", 6, Kind::Msg(&QUANTILE)),
        f("attributes", 7, Kind::Msg(&KEY_VALUE)),
        f("flags", 8, Kind::Uint32),
    ],
};
static QUANTILE: Msg = Msg {
    fields: &[f("quantile", 1, Kind::Double), f("value", 2, Kind::Double)],
};
static EXEMPLAR: Msg = Msg {
    fields: &[
        f("timeUnixNano", 2, Kind::Fixed64),
        f("asDouble", 3, Kind::Double),
        f("spanId", 4, Kind::HexId),
        f("traceId", 5, Kind::HexId),
        f("asInt", 6, Kind::Sfixed64),
        f("filteredAttributes", 7, Kind::Msg(&KEY_VALUE)),
    ],
};
