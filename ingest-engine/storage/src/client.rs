//! A small ClickHouse HTTP client: queries as text, inserts as framed Native bodies.
//!
//! Every call has a timeout (`clickhouse.timeout_ms`); errors are classified as retryable
//! (network, timeouts, overload, too many parts) or not (the server refused the data or query).

use std::time::Duration;

use bytes::Bytes;

use crate::config::{ClickHouseConfig, Secret};

/// A failed ClickHouse call.
#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    /// The server could not be reached or did not answer in time.
    #[error("clickhouse unreachable: {0}")]
    Transport(String),
    /// The server answered with an error.
    #[error("clickhouse error (HTTP {status}, code {code:?}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// ClickHouse's exception code, when it could be read.
        code: Option<u32>,
        /// The exception text (first line).
        message: String,
    },
}

/// What a failed call means for the data it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Network, timeout or server overload: the same request may succeed later.
    Transient,
    /// The server refused these rows (type, parse or check errors): sending them again cannot
    /// help; the batch is split to find the rows and dead-letter them.
    Data,
    /// The server refuses every insert (credentials, missing table or column, bad query):
    /// an operator has to act; retrying is all the engine can do.
    Refused,
    /// An error not classified above: retried a few times, then treated as [`Failure::Data`].
    Unknown,
}

/// Exception codes caused by the rows themselves.
const DATA_CODES: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    33,  // CANNOT_READ_ALL_DATA
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA
    128, // TOO_LARGE_ARRAY_SIZE
    131, // TOO_LARGE_STRING_SIZE
    190, // SIZES_OF_ARRAYS_DOESNT_MATCH
    395, // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
    469, // VIOLATED_CONSTRAINT
];

/// Exception codes that refuse every insert until configuration or schema is fixed.
const REFUSED_CODES: &[u32] = &[
    16,  // NO_SUCH_COLUMN_IN_TABLE
    36,  // BAD_ARGUMENTS
    47,  // UNKNOWN_IDENTIFIER
    60,  // UNKNOWN_TABLE
    62,  // SYNTAX_ERROR
    81,  // UNKNOWN_DATABASE
    164, // READONLY
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    497, // ACCESS_DENIED
    516, // AUTHENTICATION_FAILED
];

/// Exception codes of a busy or unwell server.
const TRANSIENT_CODES: &[u32] = &[
    159, // TIMEOUT_EXCEEDED
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    319, // UNKNOWN_STATUS_OF_INSERT
    425, // SYSTEM_ERROR
];

impl ClickHouseError {
    /// What this failure means for the data (see [`Failure`]).
    pub fn failure(&self) -> Failure {
        match self {
            ClickHouseError::Transport(_) => Failure::Transient,
            ClickHouseError::Server {
                code: Some(code), ..
            } => {
                if DATA_CODES.contains(code) {
                    Failure::Data
                } else if REFUSED_CODES.contains(code) {
                    Failure::Refused
                } else if TRANSIENT_CODES.contains(code) {
                    Failure::Transient
                } else {
                    Failure::Unknown
                }
            }
            ClickHouseError::Server { status, .. } if *status >= 500 => Failure::Transient,
            ClickHouseError::Server { .. } => Failure::Refused,
        }
    }

    /// Whether sending the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.failure(), Failure::Transient | Failure::Unknown)
    }
}

/// An INSERT body made of framed blocks, sent one after another: the blocks are not copied
/// into one buffer (a fresh multi-megabyte buffer per INSERT costs a copy and page faults),
/// and cloning it for a retry is cheap.
#[derive(Clone, Debug, Default)]
pub struct FramedBody {
    parts: std::collections::VecDeque<Bytes>,
    remaining: u64,
}

impl FramedBody {
    /// A body of `parts` in order.
    pub fn new(parts: impl IntoIterator<Item = Bytes>) -> Self {
        let parts: std::collections::VecDeque<Bytes> =
            parts.into_iter().filter(|p| !p.is_empty()).collect();
        let remaining = parts.iter().map(|p| p.len() as u64).sum();
        Self { parts, remaining }
    }
}

impl http_body::Body for FramedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let part = self.parts.pop_front();
        if let Some(p) = &part {
            self.remaining -= p.len() as u64;
        }
        std::task::Poll::Ready(part.map(|p| Ok(http_body::Frame::data(p))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    // Exact, so the request carries a Content-Length instead of chunked encoding.
    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// A ClickHouse HTTP endpoint with credentials.
#[derive(Clone, Debug)]
pub struct ClickHouse {
    http: reqwest::Client,
    url: String,
    user: String,
    password: Secret,
    /// The cluster the tables are spread over, if any (`ClickHouseConfig::cluster`).
    cluster: Option<String>,
}

impl ClickHouse {
    /// A client for `config` (no request is made yet).
    pub fn new(config: &ClickHouseConfig) -> Result<Self, ClickHouseError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms.min(5_000)))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| ClickHouseError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            url: config.url.trim_end_matches('/').to_owned(),
            user: config.user.clone(),
            password: config.password.clone(),
            cluster: Some(config.cluster.trim().to_owned()).filter(|c| !c.is_empty()),
        })
    }

    /// The cluster the tables are spread over (`None`: one server).
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    async fn post(
        &self,
        params: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> Result<Bytes, ClickHouseError> {
        // On a cluster an INSERT into a Distributed table returns once every shard has its
        // part (so an acknowledgement means stored, and a replayed block meets the replicas'
        // deduplication); on one server the setting is never read.
        let cluster = [("insert_distributed_sync", "1")];
        let extra: &[(&str, &str)] = if self.cluster.is_some() {
            &cluster
        } else {
            &[]
        };
        let response = self
            .http
            .post(&self.url)
            .query(params)
            .query(extra)
            .basic_auth(&self.user, Some(&self.password.0))
            .body(body)
            .send()
            .await
            .map_err(|e| ClickHouseError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let header_code = response
            .headers()
            .get("x-clickhouse-exception-code")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = response
            .bytes()
            .await
            .map_err(|e| ClickHouseError::Transport(e.to_string()))?;
        if status == 200 {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body);
        let code = header_code.or_else(|| {
            text.strip_prefix("Code: ")
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
        });
        let message = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(2_000)
            .collect();
        Err(ClickHouseError::Server {
            status,
            code,
            message,
        })
    }

    /// Runs `sql` and returns its text output.
    pub async fn query(&self, sql: &str) -> Result<String, ClickHouseError> {
        let body = self
            .post(&[], Bytes::copy_from_slice(sql.as_bytes()))
            .await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// Runs a read-only `sql` with the per-query `settings` (limits such as
    /// `max_execution_time`) and returns its text output; the server refuses any write in it.
    pub async fn select(
        &self,
        sql: &str,
        settings: &[(&str, &str)],
    ) -> Result<String, ClickHouseError> {
        let mut params = settings.to_vec();
        // Last, so the limits before it still apply (2: settings may change, data may not).
        params.push(("readonly", "2"));
        let body = self
            .post(&params, Bytes::copy_from_slice(sql.as_bytes()))
            .await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// Sends an `INSERT … FORMAT Native` whose body is already framed for `decompress=1`.
    pub async fn insert_native(
        &self,
        insert_query: &str,
        framed: FramedBody,
        extra_settings: &[(&str, &str)],
    ) -> Result<(), ClickHouseError> {
        let mut params = vec![("query", insert_query), ("decompress", "1")];
        params.extend_from_slice(extra_settings);
        self.post(&params, reqwest::Body::wrap(framed))
            .await
            .map(|_| ())
    }

    /// Sends `insert_query` (an `INSERT … FORMAT <text format>`) with `rows` as its data.
    pub async fn insert_text(
        &self,
        insert_query: &str,
        rows: Bytes,
    ) -> Result<(), ClickHouseError> {
        self.post(&[("query", insert_query)], rows)
            .await
            .map(|_| ())
    }

    /// The server's version as `(major, minor)`.
    pub async fn version(&self) -> Result<(u32, u32), ClickHouseError> {
        let text = self.query("SELECT version()").await?;
        let mut parts = text
            .trim()
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        Ok((parts.next().unwrap_or(0), parts.next().unwrap_or(0)))
    }
}
