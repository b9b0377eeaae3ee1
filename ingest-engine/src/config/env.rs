//! `VIGIL_*` environment overrides: the one place that maps variable names to config fields,
//! read through the `settings` crate like every binary's.

use settings::Env;

use super::{Config, LogFormat, Secret};
use storage::compression::Compression;

impl Config {
    pub(super) fn apply_env(&mut self, env: &mut Env<'_>) {
        env.set("VIGIL_OTLP_GRPC_ADDR", &mut self.otlp_grpc_addr);
        env.set("VIGIL_OTLP_HTTP_ADDR", &mut self.otlp_http_addr);
        env.set_some("VIGIL_HTTP_ADDR", &mut self.http_addr);
        let fw = &mut self.forward;
        env.set("VIGIL_FORWARD_ADDR", &mut fw.addr);
        if let Some(project) = env.get("VIGIL_FORWARD_PROJECT") {
            fw.project = project;
        }
        if let Some(keys) = env.get("VIGIL_FORWARD_SHARED_KEYS") {
            fw.shared_keys = Secret(keys);
        }
        if let Some(users) = env.get("VIGIL_FORWARD_USERS") {
            fw.users = Secret(users);
        }
        if let Some(key) = env.get("VIGIL_FORWARD_KEY_LOGIN_SHARED_KEY") {
            fw.key_login_shared_key = Secret(key);
        }
        if let Some(hostname) = env.get("VIGIL_FORWARD_HOSTNAME") {
            fw.hostname = hostname;
        }
        if let Some(file) = env.get("VIGIL_FORWARD_TLS_CERT_FILE") {
            fw.tls_cert_file = file;
        }
        if let Some(file) = env.get("VIGIL_FORWARD_TLS_KEY_FILE") {
            fw.tls_key_file = file;
        }
        env.set("VIGIL_FORWARD_MAX_FRAME_BYTES", &mut fw.max_frame_bytes);
        env.set(
            "VIGIL_FORWARD_MAX_DECOMPRESSED_BYTES",
            &mut fw.max_decompressed_bytes,
        );
        env.set("VIGIL_FORWARD_MAX_CONNECTIONS", &mut fw.max_connections);
        env.set("VIGIL_FORWARD_IDLE_TIMEOUT_MS", &mut fw.idle_timeout_ms);
        if let Some(tokens) = env.get("VIGIL_INGEST_TOKENS") {
            self.ingest_tokens = Secret(tokens);
        }
        if let Some(format) = env.get("VIGIL_LOG_FORMAT") {
            match format.trim() {
                "text" => self.log_format = LogFormat::Text,
                "json" => self.log_format = LogFormat::Json,
                other => env.problem(format!("VIGIL_LOG_FORMAT: `{other}` is not text or json")),
            }
        }
        let ch = &mut self.clickhouse;
        if let Some(url) = env.get("VIGIL_CLICKHOUSE_URL") {
            ch.url = url;
        }
        if let Some(db) = env.get("VIGIL_CLICKHOUSE_DATABASE") {
            ch.database = db;
        }
        if let Some(user) = env.get("VIGIL_CLICKHOUSE_USER") {
            ch.user = user;
        }
        if let Some(cluster) = env.get("VIGIL_CLICKHOUSE_CLUSTER") {
            ch.cluster = cluster;
        }
        if let Some(password) = env.get("VIGIL_CLICKHOUSE_PASSWORD") {
            ch.password = Secret(password);
        }
        if let Some(c) = env.get("VIGIL_CLICKHOUSE_COMPRESSION") {
            match c.trim() {
                "lz4" => ch.compression = Compression::Lz4,
                "none" => ch.compression = Compression::None,
                other => env.problem(format!(
                    "VIGIL_CLICKHOUSE_COMPRESSION: `{other}` is not lz4 or none"
                )),
            }
        }
        env.set("VIGIL_CLICKHOUSE_TIMEOUT_MS", &mut ch.timeout_ms);
        env.set(
            "VIGIL_CLICKHOUSE_MAX_CONCURRENT_INSERTS",
            &mut ch.max_concurrent_inserts,
        );
        env.set("VIGIL_CLICKHOUSE_MAX_ATTEMPTS", &mut ch.max_attempts);
        env.set("VIGIL_CLICKHOUSE_RETRY_BASE_MS", &mut ch.retry_base_ms);
        env.set("VIGIL_CLICKHOUSE_RETRY_MAX_MS", &mut ch.retry_max_ms);
        env.set("VIGIL_RETENTION_DAYS", &mut ch.retention_days);
        env.set("VIGIL_BATCH_MAX_ROWS", &mut self.batch.max_rows);
        env.set("VIGIL_BATCH_MAX_BYTES", &mut self.batch.max_bytes);
        env.set("VIGIL_BATCH_MAX_AGE_MS", &mut self.batch.max_age_ms);
        let l = &mut self.limits;
        env.set("VIGIL_MAX_BODY_BYTES", &mut l.max_body_bytes);
        env.set("VIGIL_MAX_CONNECTIONS", &mut l.max_connections);
        env.set(
            "VIGIL_MAX_CONNECTIONS_PER_ADDRESS",
            &mut l.max_connections_per_address,
        );
        env.set(
            "VIGIL_FIRST_REQUEST_TIMEOUT_MS",
            &mut l.first_request_timeout_ms,
        );
        env.set("VIGIL_IDLE_TIMEOUT_MS", &mut l.idle_timeout_ms);
        env.set("VIGIL_REQUEST_TIMEOUT_MS", &mut l.request_timeout_ms);
        env.set("VIGIL_MAX_BUFFERED_BYTES", &mut l.max_buffered_bytes);
        env.set("VIGIL_H2_MAX_STREAMS", &mut l.h2_max_concurrent_streams);
        env.set("VIGIL_DECODE_THREADS", &mut l.decode_threads);
        env.set("VIGIL_SHUTDOWN_TIMEOUT_MS", &mut l.shutdown_timeout_ms);
        env.set("VIGIL_TRUSTED_PROXIES", &mut l.trusted_proxies);
        let w = &mut self.wal;
        env.set("VIGIL_WAL_ENABLED", &mut w.enabled);
        if let Some(dir) = env.get("VIGIL_WAL_DIR") {
            w.dir = dir.into();
        }
        env.set("VIGIL_WAL_FSYNC", &mut w.fsync);
        env.set("VIGIL_WAL_SEGMENT_BYTES", &mut w.segment_bytes);
        env.set("VIGIL_WAL_MAX_BYTES", &mut w.max_bytes);
        env.set("VIGIL_WAL_READ_CACHE_BYTES", &mut w.read_cache_bytes);
        env.set("VIGIL_DEAD_LETTER_MAX_BYTES", &mut w.dead_letter_max_bytes);
        let m = &mut self.monitors;
        if let Some(keys) = env.get("VIGIL_AGENT_KEYS") {
            m.agent_keys = Secret(keys);
        }
        if let Some(keys) = env.get("VIGIL_HEARTBEAT_KEYS") {
            m.heartbeat_keys = Secret(keys);
        }
        env.set(
            "VIGIL_HEARTBEAT_MAX_BODY_BYTES",
            &mut m.max_request_body_bytes,
        );
        env.set("VIGIL_AGENT_MAX_REPORT_BYTES", &mut m.max_report_bytes);
        env.set("VIGIL_AGENT_MAX_PROCESSES", &mut m.max_processes);
        let k = &mut self.keys;
        if let Some(url) = env.get("VIGIL_DATABASE_URL") {
            k.database_url = Secret(url);
        }
        env.set("VIGIL_KEYS_REFRESH_SECS", &mut k.refresh_secs);
        env.set("VIGIL_KEYS_TIMEOUT_MS", &mut k.timeout_ms);
        let r = &mut self.redis;
        if let Some(url) = env.get("VIGIL_REDIS_URL") {
            r.url = url;
        }
        if let Some(prefix) = env.get("VIGIL_REDIS_STREAM_PREFIX") {
            r.stream_prefix = prefix;
        }
        env.set("VIGIL_REDIS_STREAM_MAX_LEN", &mut r.stream_max_len);
        env.set("VIGIL_REDIS_TIMEOUT_MS", &mut r.timeout_ms);
    }
}
