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

/// Exception codes that mean "this data or query is wrong", not "try again".
const NON_RETRYABLE_CODES: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    16,  // NO_SUCH_COLUMN_IN_TABLE
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    33,  // CANNOT_READ_ALL_DATA
    36,  // BAD_ARGUMENTS
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    47,  // UNKNOWN_IDENTIFIER
    53,  // TYPE_MISMATCH
    60,  // UNKNOWN_TABLE
    62,  // SYNTAX_ERROR
    81,  // UNKNOWN_DATABASE
    117, // INCORRECT_DATA
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    516, // AUTHENTICATION_FAILED
];

impl ClickHouseError {
    /// Whether sending the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClickHouseError::Transport(_) => true,
            ClickHouseError::Server {
                code: Some(code), ..
            } => !NON_RETRYABLE_CODES.contains(code),
            ClickHouseError::Server { status, .. } => *status >= 500,
        }
    }
}

/// A ClickHouse HTTP endpoint with credentials.
#[derive(Clone, Debug)]
pub struct ClickHouse {
    http: reqwest::Client,
    url: String,
    user: String,
    password: Secret,
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
        })
    }

    async fn post(&self, params: &[(&str, &str)], body: Bytes) -> Result<Bytes, ClickHouseError> {
        let response = self
            .http
            .post(&self.url)
            .query(params)
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

    /// Sends an `INSERT … FORMAT Native` whose body is already framed for `decompress=1`.
    pub async fn insert_native(
        &self,
        insert_query: &str,
        framed: Bytes,
        extra_settings: &[(&str, &str)],
    ) -> Result<(), ClickHouseError> {
        let mut params = vec![("query", insert_query), ("decompress", "1")];
        params.extend_from_slice(extra_settings);
        self.post(&params, framed).await.map(|_| ())
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
