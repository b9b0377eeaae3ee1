//! How the explorer reads ClickHouse: every query bounded in time, rows and bytes read and in
//! result size, read-only, named by a `query_id`, and killed (`KILL QUERY … ASYNC`) when the
//! request is dropped before it answers — a client that goes away takes its query with it.
//! Time ranges are checked here too: every explorer query reads a bounded slice of a table's
//! `(project_id, …, time)` order.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use storage::client::{ClickHouse, ClickHouseError};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::ApiError;
use crate::search::READ_LIMITS;
use crate::search::parse::parse;
use crate::search::sql::{Signal, condition, duration_ns, quote};

/// Longest range any explorer query covers.
pub(crate) const MAX_RANGE_SECS: i64 = 31 * 86_400;

/// `?from=&to=` (RFC 3339) or `?last=15m|1h|24h|7d…`; default the last hour.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TimeRange {
    pub(crate) from: Option<DateTime<Utc>>,
    pub(crate) to: Option<DateTime<Utc>>,
    /// A span back from now (`15m`, `1h`, `7d`); instead of `from`/`to`.
    pub(crate) last: Option<String>,
}

impl TimeRange {
    /// A page's range: `from`/`to` when given (a link to a moment, such as an incident's
    /// query), else `last`, else `default_last`; and the fixed range for people, if any.
    pub(crate) fn of_page(
        last: Option<String>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        default_last: &str,
    ) -> (Self, Option<String>) {
        let fixed = match (from, to) {
            (None, None) => None,
            (from, to) => {
                let at = |t: Option<DateTime<Utc>>, none: &str| {
                    t.map_or(none.to_owned(), |t| {
                        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
                    })
                };
                Some(format!(
                    "{} to {}",
                    at(from, "an hour before"),
                    at(to, "now")
                ))
            }
        };
        let last = match (last, from, to) {
            (None, None, None) => Some(default_last.to_owned()),
            (last, _, _) => last,
        };
        (Self { from, to, last }, fixed)
    }

    /// `(from, to)` in Unix seconds, checked.
    pub(crate) fn bounds(&self) -> Result<(i64, i64), ApiError> {
        // Ranges end before `to`: "now" must include the second under way.
        let now = Utc::now().timestamp() + 1;
        let (from, to) = match (&self.last, self.from, self.to) {
            (Some(last), None, None) => {
                let secs = last
                    .strip_suffix('d')
                    .and_then(|d| d.parse::<i64>().ok())
                    .map(|d| d * 86_400)
                    .or_else(|| duration_ns(last).map(|ns| (ns / 1e9) as i64))
                    .filter(|s| *s > 0)
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!("last={last:?}: a span such as 15m, 1h or 7d"))
                    })?;
                (now - secs, now)
            }
            (None, from, to) => {
                let to = to.map_or(now, |t| t.timestamp());
                (from.map_or(to - 3600, |f| f.timestamp()), to)
            }
            (Some(_), _, _) => {
                return Err(ApiError::BadRequest(
                    "give last, or from and to, not both".into(),
                ));
            }
        };
        if from >= to || to - from > MAX_RANGE_SECS {
            return Err(ApiError::BadRequest(
                "the range must end after it starts and span at most 31 days".into(),
            ));
        }
        Ok((from, to))
    }
}

/// `<database>.<table>` of the results database.
pub(crate) fn table(database: &str, table: storage::tables::Table) -> String {
    format!("{database}.{}", table.name())
}

/// The project's slice of `(from, to)` (Unix seconds), and the condition of the query `q`
/// (the explorer's language) on `signal`'s table.
pub(crate) fn scope(
    signal: Signal,
    project_id: Uuid,
    (from, to): (i64, i64),
    q: &str,
) -> Result<String, ApiError> {
    let expr = parse(q).map_err(|e| ApiError::BadRequest(format!("q: {e}")))?;
    let cond =
        condition(&expr, signal).map_err(|e| ApiError::BadRequest(format!("q: {}", e.message)))?;
    Ok(format!(
        "project_id = '{project_id}' AND time >= toDateTime({from}) AND time < toDateTime({to}) \
         AND ({cond})"
    ))
}

/// Kills its query when dropped armed (the request went away mid-query).
struct KillOnDrop {
    clickhouse: ClickHouse,
    query_id: Option<String>,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let (Some(id), Ok(runtime)) = (self.query_id.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let clickhouse = self.clickhouse.clone();
        runtime.spawn(async move {
            let kill = format!("KILL QUERY WHERE query_id = {} ASYNC", quote(&id));
            if let Err(error) = clickhouse.query(&kill).await {
                tracing::warn!(%error, query_id = %id, "an abandoned explorer query was not killed");
            }
        });
    }
}

/// Runs one bounded explorer read; a table not created yet reads as no rows, a query over its
/// limits is a 400 that says which. With `explorer_log_queries` the query goes to ClickHouse's
/// `system.query_log` (what it read, how long it took: the benchmark reads them there).
pub(crate) async fn read(state: &super::AppState, sql: &str) -> Result<String, ApiError> {
    let clickhouse = &state.clickhouse;
    let id = Uuid::new_v4().to_string();
    let mut guard = KillOnDrop {
        clickhouse: clickhouse.clone(),
        query_id: Some(id.clone()),
    };
    let mut settings = READ_LIMITS.to_vec();
    settings.push(("query_id", &id));
    if state.config.explorer_log_queries {
        settings.push(("log_queries", "1"));
    }
    let result = clickhouse.select(sql, &settings).await;
    guard.query_id = None;
    match result {
        Ok(text) => Ok(text),
        // UNKNOWN_TABLE, UNKNOWN_DATABASE: nothing was ever stored.
        Err(ClickHouseError::Server {
            code: Some(60 | 81),
            ..
        }) => Ok(String::new()),
        // TOO_MANY_ROWS, TOO_MANY_BYTES, TIMEOUT_EXCEEDED, TOO_MANY_ROWS_OR_BYTES.
        Err(ClickHouseError::Server {
            code: Some(158 | 159 | 307 | 396),
            ..
        }) => Err(ApiError::BadRequest(
            "the query reads too much: narrow the time range or the search".into(),
        )),
        Err(e) => Err(e.into()),
    }
}
