//! `VIGIL_*` environment overrides: the one place that maps variable names to config fields.

use super::{Config, LogFormat, Secret};
use storage::compression::Compression;

impl Config {
    pub(super) fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
        problems: &mut Vec<String>,
    ) {
        fn set<T: std::str::FromStr>(
            env: &impl Fn(&str) -> Option<String>,
            name: &str,
            slot: &mut T,
            problems: &mut Vec<String>,
        ) {
            if let Some(raw) = env(name) {
                match raw.trim().parse() {
                    Ok(v) => *slot = v,
                    Err(_) => problems.push(format!("{name}: cannot parse `{raw}`")),
                }
            }
        }
        set(
            env,
            "VIGIL_OTLP_GRPC_ADDR",
            &mut self.otlp_grpc_addr,
            problems,
        );
        set(
            env,
            "VIGIL_OTLP_HTTP_ADDR",
            &mut self.otlp_http_addr,
            problems,
        );
        if let Some(raw) = env("VIGIL_HTTP_ADDR").filter(|v| !v.trim().is_empty()) {
            match raw.trim().parse() {
                Ok(v) => self.http_addr = Some(v),
                Err(_) => problems.push(format!("VIGIL_HTTP_ADDR: cannot parse `{raw}`")),
            }
        }
        let fw = &mut self.forward;
        set(env, "VIGIL_FORWARD_ADDR", &mut fw.addr, problems);
        if let Some(project) = env("VIGIL_FORWARD_PROJECT") {
            fw.project = project;
        }
        if let Some(keys) = env("VIGIL_FORWARD_SHARED_KEYS") {
            fw.shared_keys = Secret(keys);
        }
        if let Some(users) = env("VIGIL_FORWARD_USERS") {
            fw.users = Secret(users);
        }
        if let Some(key) = env("VIGIL_FORWARD_KEY_LOGIN_SHARED_KEY") {
            fw.key_login_shared_key = Secret(key);
        }
        if let Some(hostname) = env("VIGIL_FORWARD_HOSTNAME") {
            fw.hostname = hostname;
        }
        if let Some(file) = env("VIGIL_FORWARD_TLS_CERT_FILE") {
            fw.tls_cert_file = file;
        }
        if let Some(file) = env("VIGIL_FORWARD_TLS_KEY_FILE") {
            fw.tls_key_file = file;
        }
        set(
            env,
            "VIGIL_FORWARD_MAX_FRAME_BYTES",
            &mut fw.max_frame_bytes,
            problems,
        );
        set(
            env,
            "VIGIL_FORWARD_MAX_DECOMPRESSED_BYTES",
            &mut fw.max_decompressed_bytes,
            problems,
        );
        set(
            env,
            "VIGIL_FORWARD_MAX_CONNECTIONS",
            &mut fw.max_connections,
            problems,
        );
        set(
            env,
            "VIGIL_FORWARD_IDLE_TIMEOUT_MS",
            &mut fw.idle_timeout_ms,
            problems,
        );
        if let Some(tokens) = env("VIGIL_INGEST_TOKENS") {
            self.ingest_tokens = Secret(tokens);
        }
        if let Some(format) = env("VIGIL_LOG_FORMAT") {
            match format.trim() {
                "text" => self.log_format = LogFormat::Text,
                "json" => self.log_format = LogFormat::Json,
                other => problems.push(format!("VIGIL_LOG_FORMAT: `{other}` is not text or json")),
            }
        }
        let ch = &mut self.clickhouse;
        if let Some(url) = env("VIGIL_CLICKHOUSE_URL") {
            ch.url = url;
        }
        if let Some(db) = env("VIGIL_CLICKHOUSE_DATABASE") {
            ch.database = db;
        }
        if let Some(user) = env("VIGIL_CLICKHOUSE_USER") {
            ch.user = user;
        }
        if let Some(password) = env("VIGIL_CLICKHOUSE_PASSWORD") {
            ch.password = Secret(password);
        }
        if let Some(c) = env("VIGIL_CLICKHOUSE_COMPRESSION") {
            match c.trim() {
                "lz4" => ch.compression = Compression::Lz4,
                "none" => ch.compression = Compression::None,
                other => problems.push(format!(
                    "VIGIL_CLICKHOUSE_COMPRESSION: `{other}` is not lz4 or none"
                )),
            }
        }
        set(
            env,
            "VIGIL_CLICKHOUSE_TIMEOUT_MS",
            &mut ch.timeout_ms,
            problems,
        );
        set(
            env,
            "VIGIL_CLICKHOUSE_MAX_CONCURRENT_INSERTS",
            &mut ch.max_concurrent_inserts,
            problems,
        );
        set(
            env,
            "VIGIL_CLICKHOUSE_MAX_ATTEMPTS",
            &mut ch.max_attempts,
            problems,
        );
        set(
            env,
            "VIGIL_CLICKHOUSE_RETRY_BASE_MS",
            &mut ch.retry_base_ms,
            problems,
        );
        set(
            env,
            "VIGIL_CLICKHOUSE_RETRY_MAX_MS",
            &mut ch.retry_max_ms,
            problems,
        );
        set(
            env,
            "VIGIL_RETENTION_DAYS",
            &mut ch.retention_days,
            problems,
        );
        set(
            env,
            "VIGIL_BATCH_MAX_ROWS",
            &mut self.batch.max_rows,
            problems,
        );
        set(
            env,
            "VIGIL_BATCH_MAX_BYTES",
            &mut self.batch.max_bytes,
            problems,
        );
        set(
            env,
            "VIGIL_BATCH_MAX_AGE_MS",
            &mut self.batch.max_age_ms,
            problems,
        );
        let l = &mut self.limits;
        set(env, "VIGIL_MAX_BODY_BYTES", &mut l.max_body_bytes, problems);
        set(
            env,
            "VIGIL_MAX_CONNECTIONS",
            &mut l.max_connections,
            problems,
        );
        set(
            env,
            "VIGIL_MAX_CONNECTIONS_PER_ADDRESS",
            &mut l.max_connections_per_address,
            problems,
        );
        set(
            env,
            "VIGIL_FIRST_REQUEST_TIMEOUT_MS",
            &mut l.first_request_timeout_ms,
            problems,
        );
        set(
            env,
            "VIGIL_IDLE_TIMEOUT_MS",
            &mut l.idle_timeout_ms,
            problems,
        );
        set(
            env,
            "VIGIL_REQUEST_TIMEOUT_MS",
            &mut l.request_timeout_ms,
            problems,
        );
        set(
            env,
            "VIGIL_MAX_BUFFERED_BYTES",
            &mut l.max_buffered_bytes,
            problems,
        );
        set(
            env,
            "VIGIL_H2_MAX_STREAMS",
            &mut l.h2_max_concurrent_streams,
            problems,
        );
        set(env, "VIGIL_DECODE_THREADS", &mut l.decode_threads, problems);
        set(
            env,
            "VIGIL_SHUTDOWN_TIMEOUT_MS",
            &mut l.shutdown_timeout_ms,
            problems,
        );
        let w = &mut self.wal;
        set(env, "VIGIL_WAL_ENABLED", &mut w.enabled, problems);
        if let Some(dir) = env("VIGIL_WAL_DIR") {
            w.dir = dir.into();
        }
        set(env, "VIGIL_WAL_FSYNC", &mut w.fsync, problems);
        set(
            env,
            "VIGIL_WAL_SEGMENT_BYTES",
            &mut w.segment_bytes,
            problems,
        );
        set(env, "VIGIL_WAL_MAX_BYTES", &mut w.max_bytes, problems);
        set(
            env,
            "VIGIL_WAL_READ_CACHE_BYTES",
            &mut w.read_cache_bytes,
            problems,
        );
        set(
            env,
            "VIGIL_DEAD_LETTER_MAX_BYTES",
            &mut w.dead_letter_max_bytes,
            problems,
        );
        let m = &mut self.monitors;
        if let Some(keys) = env("VIGIL_AGENT_KEYS") {
            m.agent_keys = Secret(keys);
        }
        if let Some(keys) = env("VIGIL_HEARTBEAT_KEYS") {
            m.heartbeat_keys = Secret(keys);
        }
        set(
            env,
            "VIGIL_HEARTBEAT_MAX_BODY_BYTES",
            &mut m.max_request_body_bytes,
            problems,
        );
        set(
            env,
            "VIGIL_AGENT_MAX_REPORT_BYTES",
            &mut m.max_report_bytes,
            problems,
        );
        set(
            env,
            "VIGIL_AGENT_MAX_PROCESSES",
            &mut m.max_processes,
            problems,
        );
        let k = &mut self.keys;
        if let Some(url) = env("VIGIL_DATABASE_URL") {
            k.database_url = Secret(url);
        }
        set(
            env,
            "VIGIL_KEYS_REFRESH_SECS",
            &mut k.refresh_secs,
            problems,
        );
        set(env, "VIGIL_KEYS_TIMEOUT_MS", &mut k.timeout_ms, problems);
        let r = &mut self.redis;
        if let Some(url) = env("VIGIL_REDIS_URL") {
            r.url = url;
        }
        if let Some(prefix) = env("VIGIL_REDIS_STREAM_PREFIX") {
            r.stream_prefix = prefix;
        }
        set(
            env,
            "VIGIL_REDIS_STREAM_MAX_LEN",
            &mut r.stream_max_len,
            problems,
        );
        set(env, "VIGIL_REDIS_TIMEOUT_MS", &mut r.timeout_ms, problems);
    }
}
