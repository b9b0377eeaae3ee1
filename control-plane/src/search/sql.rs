//! A parsed query as a ClickHouse condition over the `logs` or `spans` table. Every value the
//! user typed reaches the SQL only as a quoted, escaped string literal or as a number this
//! module formatted; field names choose among fixed column expressions and never appear in the
//! SQL except, escaped, as attribute keys. Comparisons on attributes follow their OTLP type:
//! integers and doubles compare as numbers, the rest as text.

use super::parse::{Expr, ParseError, Pred, Term};

/// The table a query searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Logs,
    Spans,
}

/// A string as a ClickHouse literal.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A `*` pattern as a LIKE literal: `%` and `_` typed are literal, `*` matches any run.
fn like(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("\\%"),
            '_' => out.push_str("\\_"),
            '*' => out.push('%'),
            c => out.push(c),
        }
    }
    quote(&out)
}

/// A number as SQL (finite only).
fn number(value: f64) -> String {
    format!("{value:?}")
}

fn parse_number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// How a field is stored.
enum Column {
    /// Free text searched by words (a log's body, a span's name and status message).
    Text(&'static str),
    /// A string matched whole (service, ids).
    Exact(&'static str),
    /// A number, with how typed values read (units, names).
    Number(&'static str, fn(&str) -> Option<f64>),
    /// One key of an attribute list (`attributes`, `resource_attributes`).
    Attribute(&'static str, String),
}

/// A log's severity: the number, or from the text when a sender gave only that.
pub(crate) const SEVERITY: &str = "if(severity_number > 0, severity_number, transform(lowerUTF8(severity_text), \
     ['trace', 'debug', 'info', 'notice', 'warn', 'warning', 'error', 'err', 'critical', 'fatal'], \
     [1, 5, 9, 10, 13, 13, 17, 17, 21, 21], 0))";

/// Severity names as OTLP severity numbers (the first of each range).
fn severity(text: &str) -> Option<f64> {
    let n = match text.to_ascii_lowercase().as_str() {
        "trace" => 1.0,
        "debug" => 5.0,
        "info" => 9.0,
        "warn" | "warning" => 13.0,
        "error" | "err" => 17.0,
        "fatal" | "critical" => 21.0,
        other => return parse_number(other),
    };
    Some(n)
}

/// A duration (`250ms`, `1.5s`, `2m`, `100us`, `30ns`; a bare number is milliseconds) in ns.
pub(crate) fn duration_ns(text: &str) -> Option<f64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let value = parse_number(digits)?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "" | "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return None,
    };
    Some((value * scale).round())
}

fn span_status(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "unset" => Some(0.0),
        "ok" => Some(1.0),
        "error" => Some(2.0),
        other => parse_number(other),
    }
}

fn span_kind(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "unspecified" => Some(0.0),
        "internal" => Some(1.0),
        "server" => Some(2.0),
        "client" => Some(3.0),
        "producer" => Some(4.0),
        "consumer" => Some(5.0),
        other => parse_number(other),
    }
}

fn column(signal: Signal, field: Option<&str>) -> Column {
    let Some(field) = field else {
        return Column::Text(match signal {
            Signal::Logs => "body",
            Signal::Spans => "name",
        });
    };
    match (signal, field) {
        (_, "service" | "service.name") => Column::Exact("service_name"),
        (_, "trace_id") => Column::Exact("trace_id"),
        (_, "span_id") => Column::Exact("span_id"),
        (_, "scope") => Column::Exact("scope_name"),
        (Signal::Logs, "body" | "message") => Column::Text("body"),
        (Signal::Logs, "severity" | "level") => Column::Number(SEVERITY, severity),
        (Signal::Logs, "event") => Column::Exact("event_name"),
        (Signal::Spans, "name") => Column::Text("name"),
        (Signal::Spans, "parent_span_id") => Column::Exact("parent_span_id"),
        (Signal::Spans, "duration") => Column::Number("duration_ns", duration_ns),
        (Signal::Spans, "status") => Column::Number("status_code", span_status),
        (Signal::Spans, "status_message") => Column::Text("status_message"),
        (Signal::Spans, "kind") => Column::Number("kind", span_kind),
        (_, other) => match other.strip_prefix("resource.") {
            Some(key) => Column::Attribute("resource_attributes", key.to_owned()),
            None => Column::Attribute(
                "attributes",
                other
                    .strip_prefix("attributes.")
                    .unwrap_or(other)
                    .to_owned(),
            ),
        },
    }
}

/// The condition `expr` makes on `signal`'s table; an error for a predicate the field cannot
/// take (a comparison on text, a value that is no number where one is needed).
pub(crate) fn condition(expr: &Expr, signal: Signal) -> Result<String, ParseError> {
    Ok(match expr {
        Expr::All => "1".to_owned(),
        Expr::And(parts) => join(parts, signal, " AND ")?,
        Expr::Or(parts) => join(parts, signal, " OR ")?,
        Expr::Not(inner) => format!("NOT ({})", condition(inner, signal)?),
        Expr::Term(term) => term_sql(term, signal)?,
    })
}

fn join(parts: &[Expr], signal: Signal, op: &str) -> Result<String, ParseError> {
    let sql: Vec<String> = parts
        .iter()
        .map(|p| condition(p, signal).map(|c| format!("({c})")))
        .collect::<Result<_, _>>()?;
    Ok(sql.join(op))
}

fn refuse(field: &Option<String>, why: &str) -> ParseError {
    ParseError {
        at: 0,
        message: format!("{}: {why}", field.as_deref().unwrap_or("text")),
    }
}

fn term_sql(term: &Term, signal: Signal) -> Result<String, ParseError> {
    let field = &term.field;
    match column(signal, field.as_deref()) {
        Column::Text(col) => Ok(match &term.pred {
            Pred::Word(w) => format!("positionCaseInsensitiveUTF8({col}, {}) > 0", quote(w)),
            Pred::Phrase(p) => format!("position({col}, {}) > 0", quote(p)),
            Pred::Wildcard(w) => format!(
                "lowerUTF8({col}) LIKE lowerUTF8({})",
                like(&format!("*{w}*"))
            ),
            Pred::Exists => format!("{col} != ''"),
            Pred::Compare(..) | Pred::Range { .. } => {
                return Err(refuse(field, "text is searched by words, not compared"));
            }
        }),
        Column::Exact(col) => Ok(match &term.pred {
            Pred::Word(w) | Pred::Phrase(w) => format!("{col} = {}", quote(w)),
            Pred::Wildcard(w) => format!("{col} LIKE {}", like(w)),
            Pred::Exists => format!("{col} != ''"),
            Pred::Compare(cmp, v) => format!("{col} {} {}", cmp.sql(), quote(v)),
            Pred::Range {
                low,
                high,
                inclusive,
            } => range(col, low.as_deref(), high.as_deref(), *inclusive, |v| {
                Some(quote(v))
            })
            .ok_or_else(|| refuse(field, "a range end is not a value"))?,
        }),
        Column::Number(col, read) => {
            let value = |v: &str| {
                read(v)
                    .map(number)
                    .ok_or_else(|| refuse(field, &format!("{v:?} is not a value this field takes")))
            };
            Ok(match &term.pred {
                // A severity name means its whole range (error: 17 to 20).
                Pred::Word(w) | Pred::Phrase(w) if col == SEVERITY && parse_number(w).is_none() => {
                    let low = severity(w).ok_or_else(|| {
                        refuse(
                            field,
                            &format!("{w:?} is not a severity (trace … fatal or 1 … 24)"),
                        )
                    })?;
                    format!("{col} BETWEEN {} AND {}", number(low), number(low + 3.0))
                }
                Pred::Word(w) | Pred::Phrase(w) => format!("{col} = {}", value(w)?),
                Pred::Compare(cmp, v) => format!("{col} {} {}", cmp.sql(), value(v)?),
                Pred::Range {
                    low,
                    high,
                    inclusive,
                } => range(col, low.as_deref(), high.as_deref(), *inclusive, |v| {
                    read(v).map(number)
                })
                .ok_or_else(|| refuse(field, "a range end is not a value this field takes"))?,
                Pred::Exists => "1".to_owned(),
                Pred::Wildcard(_) => return Err(refuse(field, "a number takes no wildcard")),
            })
        }
        Column::Attribute(list, key) => {
            let keys = format!("{list}_keys");
            let numeric = "t IN (3, 4)";
            let on_value = match &term.pred {
                Pred::Exists => return Ok(format!("has({keys}, {})", quote(&key))),
                Pred::Word(w) => match parse_number(w) {
                    Some(n) => format!(
                        "({numeric} AND toFloat64OrZero(v) = {}) OR v = {}",
                        number(n),
                        quote(w)
                    ),
                    None => format!("v = {}", quote(w)),
                },
                Pred::Phrase(p) => format!("v = {}", quote(p)),
                Pred::Wildcard(w) => format!("v LIKE {}", like(w)),
                Pred::Compare(cmp, v) => match parse_number(v) {
                    Some(n) => format!(
                        "{numeric} AND toFloat64OrZero(v) {} {}",
                        cmp.sql(),
                        number(n)
                    ),
                    None => format!("NOT ({numeric}) AND v {} {}", cmp.sql(), quote(v)),
                },
                Pred::Range {
                    low,
                    high,
                    inclusive,
                } => {
                    let numbers = low
                        .iter()
                        .chain(high.iter())
                        .all(|v| parse_number(v).is_some());
                    if numbers {
                        let bounds = range(
                            "toFloat64OrZero(v)",
                            low.as_deref(),
                            high.as_deref(),
                            *inclusive,
                            |v| parse_number(v).map(number),
                        )
                        .ok_or_else(|| refuse(field, "a range end is not a value"))?;
                        format!("{numeric} AND {bounds}")
                    } else {
                        range("v", low.as_deref(), high.as_deref(), *inclusive, |v| {
                            Some(quote(v))
                        })
                        .ok_or_else(|| refuse(field, "a range end is not a value"))?
                    }
                }
            };
            Ok(format!(
                "arrayExists((k, v, t) -> k = {} AND ({on_value}), {keys}, {list}_values, {list}_types)",
                quote(&key)
            ))
        }
    }
}

/// `col` between two ends (either may be open), each made SQL by `value`.
fn range(
    col: &str,
    low: Option<&str>,
    high: Option<&str>,
    inclusive: bool,
    value: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let (ge, le) = if inclusive { (">=", "<=") } else { (">", "<") };
    let mut parts = Vec::new();
    if let Some(low) = low {
        parts.push(format!("{col} {ge} {}", value(low)?));
    }
    if let Some(high) = high {
        parts.push(format!("{col} {le} {}", value(high)?));
    }
    Some(parts.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    fn sql(query: &str, signal: Signal) -> String {
        condition(&parse(query).unwrap(), signal).unwrap()
    }

    #[test]
    fn values_are_quoted_and_escaped_never_spliced() {
        assert_eq!(quote("it's \\ fine"), "'it\\'s \\\\ fine'");
        let injected = sql("service:\"x' OR 1=1 --\"", Signal::Logs);
        assert_eq!(injected, "service_name = 'x\\' OR 1=1 --'");
        // Field names are plain words: a quote in one is refused before any SQL is made.
        assert!(parse("user\\'s:x").is_err());
        let attr = sql("k:\"a\\\\ ' b\"", Signal::Logs);
        assert!(attr.contains("v = 'a\\\\ \\' b'"), "{attr}");
        assert_eq!(like("50%_a*"), "'50\\\\%\\\\_a%'");
    }

    #[test]
    fn fields_map_to_their_columns_and_types() {
        assert_eq!(
            sql("timeout", Signal::Logs),
            "positionCaseInsensitiveUTF8(body, 'timeout') > 0"
        );
        assert_eq!(
            sql("GET", Signal::Spans),
            "positionCaseInsensitiveUTF8(name, 'GET') > 0"
        );
        assert_eq!(
            sql("duration:>250ms", Signal::Spans),
            "duration_ns > 250000000.0"
        );
        assert_eq!(sql("status:error", Signal::Spans), "status_code = 2.0");
        assert!(sql("severity:>=warn", Signal::Logs).ends_with(">= 13.0"));
        assert!(sql("severity:error", Signal::Logs).ends_with("BETWEEN 17.0 AND 20.0"));
        let range = sql("http.status_code:[500 TO 599]", Signal::Spans);
        assert!(
            range.contains(
                "t IN (3, 4) AND toFloat64OrZero(v) >= 500.0 AND toFloat64OrZero(v) <= 599.0"
            ),
            "{range}"
        );
        assert_eq!(
            sql("resource.k8s.pod.name:*", Signal::Logs),
            "has(resource_attributes_keys, 'k8s.pod.name')"
        );
        assert!(sql("a AND NOT b", Signal::Logs).starts_with("(positionCase"));
    }

    #[test]
    fn impossible_predicates_are_refused() {
        for (query, signal) in [
            ("body:>3", Signal::Logs),
            ("duration:>soon", Signal::Spans),
            ("severity:loud", Signal::Logs),
            ("kind:sideways", Signal::Spans),
            ("duration:1*", Signal::Spans),
        ] {
            let parsed = parse(query).unwrap();
            assert!(condition(&parsed, signal).is_err(), "{query}");
        }
    }
}
