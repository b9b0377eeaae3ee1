//! `ExportMetricsServiceRequest` → `metrics` rows: one row per data point of every OTLP metric
//! type (gauge, sum, histogram, exponential histogram, summary), exemplars included.

use super::anyvalue::{json_kvs, prepare_attrs, push_attrs};
use super::envelope::{Envelope, push_envelope, walk};
use super::wire::{Fields, Value, packed_fixed64, packed_varint, zigzag32};
use super::{DecodeError, Decoded, seconds};
use storage::native::{PreparedAttrs, put_bytes, put_hex};
use storage::tables::MetricsBlock;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Sum,
    Histogram,
    ExpHistogram,
    Summary,
}

impl Kind {
    fn name(self) -> &'static [u8] {
        match self {
            Kind::Gauge => b"gauge",
            Kind::Sum => b"sum",
            Kind::Histogram => b"histogram",
            Kind::ExpHistogram => b"exponential_histogram",
            Kind::Summary => b"summary",
        }
    }

    /// Field numbers of the repeated parts of this kind's data point:
    /// `(attributes, exemplars, bucket_counts, explicit_bounds, quantile_values)`.
    fn repeated_fields(self) -> (u32, u32, u32, u32, u32) {
        match self {
            Kind::Gauge | Kind::Sum => (7, 5, 0, 0, 0),
            Kind::Histogram => (9, 8, 6, 7, 0),
            Kind::ExpHistogram => (1, 11, 0, 0, 0),
            Kind::Summary => (7, 0, 0, 0, 6),
        }
    }
}

/// The scalar parts of one data point.
#[derive(Default)]
struct Point<'a> {
    start: u64,
    time: u64,
    flags: u32,
    value: f64,
    value_int: i64,
    value_type: u8,
    count: u64,
    sum: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    scale: i32,
    zero_count: u64,
    zero_threshold: f64,
    positive: &'a [u8],
    negative: &'a [u8],
}

fn read_point<'a>(kind: Kind, msg: &'a [u8]) -> Result<Point<'a>, DecodeError> {
    let mut p = Point::default();
    let mut fields = Fields::new(msg);
    while let Some((n, v)) = fields.next_field()? {
        match (kind, n) {
            (_, 2) => p.start = v.fixed64("start_time_unix_nano")?,
            (_, 3) => p.time = v.fixed64("time_unix_nano")?,
            (Kind::Gauge | Kind::Sum, 4) => {
                p.value = v.double("NumberDataPoint.as_double")?;
                p.value_int = 0;
                p.value_type = 1;
            }
            (Kind::Gauge | Kind::Sum, 6) => {
                p.value_int = v.fixed64("NumberDataPoint.as_int")? as i64;
                p.value = p.value_int as f64;
                p.value_type = 2;
            }
            (Kind::Gauge | Kind::Sum | Kind::Summary, 8) => p.flags = v.varint("flags")? as u32,
            (Kind::Histogram | Kind::ExpHistogram | Kind::Summary, 4) => {
                p.count = v.fixed64("count")?;
            }
            (Kind::Histogram | Kind::ExpHistogram | Kind::Summary, 5) => {
                p.sum = Some(v.double("sum")?);
            }
            (Kind::Histogram | Kind::ExpHistogram, 10) => p.flags = v.varint("flags")? as u32,
            (Kind::Histogram, 11) | (Kind::ExpHistogram, 12) => p.min = Some(v.double("min")?),
            (Kind::Histogram, 12) | (Kind::ExpHistogram, 13) => p.max = Some(v.double("max")?),
            (Kind::ExpHistogram, 6) => p.scale = zigzag32(v.varint("scale")?),
            (Kind::ExpHistogram, 7) => p.zero_count = v.fixed64("zero_count")?,
            (Kind::ExpHistogram, 8) => p.positive = v.bytes("positive")?,
            (Kind::ExpHistogram, 9) => p.negative = v.bytes("negative")?,
            (Kind::ExpHistogram, 14) => p.zero_threshold = v.double("zero_threshold")?,
            _ => {}
        }
    }
    Ok(p)
}

/// The per-metric fields every point row copies.
struct MetricHead<'a> {
    name: &'a [u8],
    description: &'a [u8],
    unit: &'a [u8],
    kind: Kind,
    temporality: i32,
    monotonic: bool,
}

pub(super) fn decode(
    request: &[u8],
    project: &[u8],
    now: u64,
    block: &mut MetricsBlock,
    decoded: &mut Decoded,
) -> Result<(), DecodeError> {
    let mut env = Envelope::default();
    let mut metadata = PreparedAttrs::default();
    walk(request, &mut env, |env, metric| {
        let (mut name, mut description, mut unit): (&[u8], &[u8], &[u8]) = (b"", b"", b"");
        let mut data: Option<(Kind, &[u8])> = None;
        let mut fields = Fields::new(metric);
        while let Some((n, v)) = fields.next_field()? {
            match n {
                1 => name = v.bytes("Metric.name")?,
                2 => description = v.bytes("Metric.description")?,
                3 => unit = v.bytes("Metric.unit")?,
                5 => data = Some((Kind::Gauge, v.bytes("Metric.gauge")?)),
                7 => data = Some((Kind::Sum, v.bytes("Metric.sum")?)),
                9 => data = Some((Kind::Histogram, v.bytes("Metric.histogram")?)),
                10 => data = Some((Kind::ExpHistogram, v.bytes("Metric.exponential_histogram")?)),
                11 => data = Some((Kind::Summary, v.bytes("Metric.summary")?)),
                _ => {}
            }
        }
        let Some((kind, data)) = data else {
            decoded.reject(0, "metric without data ignored");
            return Ok(());
        };
        let (mut temporality, mut monotonic, mut points) = (0i32, false, 0u64);
        let mut fields = Fields::new(data);
        while let Some((n, v)) = fields.next_field()? {
            match n {
                1 => points += 1,
                2 => temporality = v.varint("aggregation_temporality")? as i32,
                3 if kind == Kind::Sum => monotonic = v.varint("Sum.is_monotonic")? != 0,
                _ => {}
            }
        }
        if name.is_empty() {
            decoded.reject(points, "metric name must not be empty");
            return Ok(());
        }
        prepare_attrs(metric, 12, &mut metadata, &mut env.scratch)?;
        let head = MetricHead {
            name,
            description,
            unit,
            kind,
            temporality,
            monotonic,
        };
        let mut fields = Fields::new(data);
        while let Some((n, v)) = fields.next_field()? {
            if n == 1 {
                push_point(
                    block,
                    env,
                    project,
                    now,
                    &head,
                    &metadata,
                    v.bytes("data_points")?,
                )?;
            }
        }
        Ok(())
    })
}

fn push_point(
    block: &mut MetricsBlock,
    env: &mut Envelope,
    project: &[u8],
    now: u64,
    head: &MetricHead<'_>,
    metadata: &PreparedAttrs,
    msg: &[u8],
) -> Result<(), DecodeError> {
    let p = read_point(head.kind, msg)?;
    push_envelope!(block, env, project);
    block.name.push(head.name);
    block.description.push(head.description);
    block.unit.push(head.unit);
    block.metric_type.push(head.kind.name());
    block.metadata.push_prepared(metadata);
    block
        .time
        .push(seconds(if p.time != 0 { p.time } else { now }));
    block.time_unix_nano.push(p.time);
    block.start_time_unix_nano.push(p.start);
    block.aggregation_temporality.push(head.temporality);
    block.is_monotonic.push(u8::from(head.monotonic));
    block.flags.push(p.flags);
    block.value.push(p.value);
    block.value_int.push(p.value_int);
    block.value_type.push(p.value_type);
    block.count.push(p.count);
    block.sum.push(p.sum);
    block.min.push(p.min);
    block.max.push(p.max);
    block.scale.push(p.scale);
    block.zero_count.push(p.zero_count);
    block.zero_threshold.push(p.zero_threshold);
    let positive_offset = push_exp_buckets(&mut block.positive_bucket_counts.values, p.positive)?;
    block.positive_offset.push(positive_offset.0);
    block
        .positive_bucket_counts
        .offsets
        .close_row(positive_offset.1);
    let negative_offset = push_exp_buckets(&mut block.negative_bucket_counts.values, p.negative)?;
    block.negative_offset.push(negative_offset.0);
    block
        .negative_bucket_counts
        .offsets
        .close_row(negative_offset.1);

    let (attrs_field, exemplars_field, buckets_field, bounds_field, quantiles_field) =
        head.kind.repeated_fields();
    push_attrs(msg, attrs_field, &mut block.attributes, &mut env.scratch)?;
    let (mut buckets, mut bounds, mut quantiles, mut exemplars) = (0u64, 0u64, 0u64, 0u64);
    let mut fields = Fields::new(msg);
    while let Some((n, v)) = fields.next_field()? {
        // Kinds without a part use field number 0, which the wire reader never yields.
        if n == buckets_field {
            packed_fixed64(v, "bucket_counts", |c| {
                block
                    .bucket_counts
                    .values
                    .extend_from_slice(&c.to_le_bytes());
                buckets += 1;
            })?;
        } else if n == bounds_field {
            packed_fixed64(v, "explicit_bounds", |b| {
                block
                    .explicit_bounds
                    .values
                    .extend_from_slice(&b.to_le_bytes());
                bounds += 1;
            })?;
        } else if n == quantiles_field {
            let (mut q, mut value) = (0f64, 0f64);
            let mut vq = Fields::new(v.bytes("quantile_values")?);
            while let Some((n, v)) = vq.next_field()? {
                match n {
                    1 => q = v.double("ValueAtQuantile.quantile")?,
                    2 => value = v.double("ValueAtQuantile.value")?,
                    _ => {}
                }
            }
            block.quantiles.values.extend_from_slice(&q.to_le_bytes());
            block
                .quantile_values
                .values
                .extend_from_slice(&value.to_le_bytes());
            quantiles += 1;
        } else if n == exemplars_field {
            push_exemplar(block, v, &mut env.scratch)?;
            exemplars += 1;
        }
    }
    block.bucket_counts.offsets.close_row(buckets);
    block.explicit_bounds.offsets.close_row(bounds);
    block.quantiles.offsets.close_row(quantiles);
    block.quantile_values.offsets.close_row(quantiles);
    block.exemplars_time_unix_nano.offsets.close_row(exemplars);
    block.exemplars_value.offsets.close_row(exemplars);
    block.exemplars_value_int.offsets.close_row(exemplars);
    block.exemplars_value_type.offsets.close_row(exemplars);
    block.exemplars_trace_id.offsets.close_row(exemplars);
    block.exemplars_span_id.offsets.close_row(exemplars);
    block
        .exemplars_filtered_attributes
        .offsets
        .close_row(exemplars);
    block.rows += 1;
    Ok(())
}

/// Appends an exponential histogram `Buckets` message's counts; returns `(offset, count)`.
fn push_exp_buckets(out: &mut Vec<u8>, msg: &[u8]) -> Result<(i32, u64), DecodeError> {
    let (mut offset, mut count) = (0i32, 0u64);
    let mut fields = Fields::new(msg);
    while let Some((n, v)) = fields.next_field()? {
        match n {
            1 => offset = zigzag32(v.varint("Buckets.offset")?),
            2 => packed_varint(v, "Buckets.bucket_counts", |c| {
                out.extend_from_slice(&c.to_le_bytes());
                count += 1;
            })?,
            _ => {}
        }
    }
    Ok((offset, count))
}

fn push_exemplar(
    block: &mut MetricsBlock,
    value: Value<'_>,
    scratch: &mut Vec<u8>,
) -> Result<(), DecodeError> {
    let msg = value.bytes("exemplars")?;
    let (mut time, mut v, mut v_int, mut v_type) = (0u64, 0f64, 0i64, 0u8);
    let (mut trace_id, mut span_id): (&[u8], &[u8]) = (b"", b"");
    let mut fields = Fields::new(msg);
    while let Some((n, f)) = fields.next_field()? {
        match n {
            2 => time = f.fixed64("Exemplar.time_unix_nano")?,
            3 => {
                v = f.double("Exemplar.as_double")?;
                v_int = 0;
                v_type = 1;
            }
            4 => span_id = f.bytes("Exemplar.span_id")?,
            5 => trace_id = f.bytes("Exemplar.trace_id")?,
            6 => {
                v_int = f.fixed64("Exemplar.as_int")? as i64;
                v = v_int as f64;
                v_type = 2;
            }
            _ => {}
        }
    }
    block
        .exemplars_time_unix_nano
        .values
        .extend_from_slice(&time.to_le_bytes());
    block
        .exemplars_value
        .values
        .extend_from_slice(&v.to_le_bytes());
    block
        .exemplars_value_int
        .values
        .extend_from_slice(&v_int.to_le_bytes());
    block.exemplars_value_type.values.push(v_type);
    put_hex(&mut block.exemplars_trace_id.values, trace_id);
    put_hex(&mut block.exemplars_span_id.values, span_id);
    scratch.clear();
    json_kvs(msg, 7, scratch, 0)?;
    put_bytes(&mut block.exemplars_filtered_attributes.values, scratch);
    Ok(())
}
