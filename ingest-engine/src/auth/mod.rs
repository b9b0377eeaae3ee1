//! Secret keys: which project (and monitor) a request writes to.
//!
//! One key store serves every input: ingestion tokens (OTLP, Fluentd HTTP), server-agent keys
//! and incoming-request (heartbeat) keys. With a database configured, [`key_sync`] fills it from
//! the control plane's PostgreSQL and keeps it current (LISTEN `vigil_keys`, plus a periodic
//! reload); the static lists of the configuration are a development option, merged in. Keys
//! are held only as SHA-256 digests, and are never logged or echoed back. (Forward shared keys
//! are the exception: the protocol needs the key itself; see [`ForwardKeys`].)

pub mod key_sync;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::config::Config;
pub use crate::config::lists::TokenListError;
use crate::config::lists::{self, entries};

pub(crate) type KeyDigest = [u8; 32];

fn digest(key: &str) -> KeyDigest {
    Sha256::digest(key.trim().as_bytes()).into()
}

/// The key of an `Authorization: Bearer <key>` header (either case of the scheme).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
}

/// The monitor a server-agent or heartbeat key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRef {
    /// Its project.
    pub project: Arc<str>,
    /// The monitor's id.
    pub monitor: Arc<str>,
}

/// A probe a probe key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRef {
    /// Its project.
    pub project: Arc<str>,
    /// The probe's id.
    pub probe: Arc<str>,
}

/// One generation of keys, by digest; replaced whole when keys change.
#[derive(Clone, Default)]
pub struct Keys {
    tokens: HashMap<KeyDigest, Arc<str>>,
    agents: HashMap<KeyDigest, MonitorRef>,
    heartbeats: HashMap<KeyDigest, MonitorRef>,
    probes: HashMap<KeyDigest, ProbeRef>,
}

impl Keys {
    /// Adds the keys of `other` (the static development keys to those of the database).
    pub(crate) fn merge(&mut self, other: &Keys) {
        self.tokens
            .extend(other.tokens.iter().map(|(k, v)| (*k, v.clone())));
        self.agents
            .extend(other.agents.iter().map(|(k, v)| (*k, v.clone())));
        self.heartbeats
            .extend(other.heartbeats.iter().map(|(k, v)| (*k, v.clone())));
        self.probes
            .extend(other.probes.iter().map(|(k, v)| (*k, v.clone())));
    }
}

/// Resolves secret keys to projects and monitors. Clones share one store; [`KeyStore::replace`]
/// swaps in a new generation without blocking readers.
#[derive(Clone)]
pub struct KeyStore {
    keys: Arc<ArcSwap<Keys>>,
    /// False until the first load from the database (requests then get 503, not 401).
    loaded: Arc<AtomicBool>,
}

impl Default for KeyStore {
    fn default() -> Self {
        Self::new(Keys::default(), true)
    }
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.load();
        write!(
            f,
            "KeyStore({} tokens, {} agent keys, {} heartbeat keys, {} probe keys)",
            keys.tokens.len(),
            keys.agents.len(),
            keys.heartbeats.len(),
            keys.probes.len()
        )
    }
}

fn monitor_keys(
    list: &str,
    name: &'static str,
) -> Result<HashMap<KeyDigest, MonitorRef>, TokenListError> {
    lists::monitor_entries(list, name)
        .map(|entry| {
            let (key, project, monitor) = entry?;
            Ok((
                digest(key),
                MonitorRef {
                    project: Arc::from(project),
                    monitor: Arc::from(monitor),
                },
            ))
        })
        .collect()
}

impl Keys {
    /// The development keys of `config`: `ingest_tokens`, `monitors.agent_keys` and
    /// `monitors.heartbeat_keys`.
    pub fn from_config(config: &Config) -> Result<Self, TokenListError> {
        Ok(Self {
            agents: monitor_keys(&config.monitors.agent_keys.0, "monitors.agent_keys")?,
            heartbeats: monitor_keys(&config.monitors.heartbeat_keys.0, "monitors.heartbeat_keys")?,
            ..Self::parse(&config.ingest_tokens.0)?
        })
    }

    /// Ingestion tokens only, from `token=project,token2=project2`.
    pub fn parse(list: &str) -> Result<Self, TokenListError> {
        let tokens = entries(list, "ingest_tokens", "token=project")
            .map(|entry| entry.map(|(token, project)| (digest(token), Arc::from(project))))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            tokens,
            ..Self::default()
        })
    }

    pub(crate) fn insert_token(&mut self, digest: KeyDigest, project: Arc<str>) {
        self.tokens.insert(digest, project);
    }

    pub(crate) fn insert_agent(&mut self, digest: KeyDigest, monitor: MonitorRef) {
        self.agents.insert(digest, monitor);
    }

    pub(crate) fn insert_heartbeat(&mut self, digest: KeyDigest, monitor: MonitorRef) {
        self.heartbeats.insert(digest, monitor);
    }

    pub(crate) fn insert_probe(&mut self, digest: KeyDigest, probe: ProbeRef) {
        self.probes.insert(digest, probe);
    }

    /// How many keys of each kind: tokens, agent keys, heartbeat keys, probe keys.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.tokens.len(),
            self.agents.len(),
            self.heartbeats.len(),
            self.probes.len(),
        )
    }
}

impl KeyStore {
    /// A store holding `keys`; `loaded` is false when they are only a start until the first
    /// load from the database.
    pub fn new(keys: Keys, loaded: bool) -> Self {
        Self {
            keys: Arc::new(ArcSwap::from_pointee(keys)),
            loaded: Arc::new(AtomicBool::new(loaded)),
        }
    }

    /// The development key store of `config` (static lists only).
    pub fn from_config(config: &Config) -> Result<Self, TokenListError> {
        Ok(Self::new(Keys::from_config(config)?, true))
    }

    /// A store of ingestion tokens only, from `token=project,token2=project2`.
    pub fn parse(list: &str) -> Result<Self, TokenListError> {
        Ok(Self::new(Keys::parse(list)?, true))
    }

    /// Puts a new generation of keys in place; readers see it at once.
    pub fn replace(&self, keys: Keys) {
        self.keys.store(Arc::new(keys));
        self.loaded.store(true, Ordering::Release);
    }

    /// Whether the keys are known (false while the first database load is outstanding).
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Whether no ingestion token is known (every telemetry request will be refused).
    pub fn is_empty(&self) -> bool {
        self.keys.load().tokens.is_empty()
    }

    /// The probe whose key `headers` carry (`Authorization: Bearer vpk_…`).
    pub fn probe(&self, headers: &HeaderMap) -> Option<ProbeRef> {
        let key = bearer(headers)?;
        self.keys.load().probes.get(&digest(key)).cloned()
    }

    /// The project of the ingestion token carried by `headers`, if the token is known.
    ///
    /// Accepted: `Authorization: Bearer <t>`, `x-vigil-token`, and OneUptime's
    /// `x-oneuptime-token`, `x-oneuptime-service-token` and `x-oneuptime-ingestion-key`, so
    /// existing collector configurations work unchanged.
    pub fn project_for(&self, headers: &HeaderMap) -> Option<Arc<str>> {
        let token = bearer(headers).or_else(|| {
            [
                "x-vigil-token",
                "x-oneuptime-token",
                "x-oneuptime-service-token",
                "x-oneuptime-ingestion-key",
            ]
            .into_iter()
            .find_map(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        })?;
        self.keys.load().tokens.get(&digest(token)).cloned()
    }

    /// The project of ingestion token `token`, with the token's digest (to check later that
    /// it was not revoked without hashing it again).
    pub(crate) fn token(&self, token: &str) -> Option<(Arc<str>, KeyDigest)> {
        let d = digest(token);
        self.keys.load().tokens.get(&d).map(|p| (p.clone(), d))
    }

    /// Whether the ingestion token of `digest` is still known (not revoked).
    pub(crate) fn token_live(&self, digest: &KeyDigest) -> bool {
        self.keys.load().tokens.contains_key(digest)
    }

    /// The server monitor of an agent's secret key.
    pub fn agent(&self, key: &str) -> Option<MonitorRef> {
        self.keys.load().agents.get(&digest(key)).cloned()
    }

    /// The incoming-request monitor of a heartbeat key.
    pub fn heartbeat(&self, key: &str) -> Option<MonitorRef> {
        self.keys.load().heartbeats.get(&digest(key)).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_form_resolves() {
        let store = KeyStore::parse(" t1=proj-a , t2=proj-b").unwrap();
        for (name, value) in [
            ("authorization", "Bearer t1"),
            ("x-vigil-token", "t1"),
            ("x-oneuptime-token", "t1"),
            ("x-oneuptime-service-token", "t1"),
            ("x-oneuptime-ingestion-key", "t1"),
        ] {
            let mut h = HeaderMap::new();
            h.insert(name, value.parse().unwrap());
            assert_eq!(store.project_for(&h).as_deref(), Some("proj-a"), "{name}");
        }
        let mut h = HeaderMap::new();
        h.insert("x-vigil-token", "nope".parse().unwrap());
        assert!(store.project_for(&h).is_none());
        assert!(store.project_for(&HeaderMap::new()).is_none());
        assert!(KeyStore::parse("bad").is_err());
        assert!(KeyStore::parse("=p").is_err());
    }

    #[test]
    fn monitor_keys_resolve_in_their_own_namespace() {
        let mut config = Config::default();
        config.ingest_tokens.0 = "t=p0".into();
        config.monitors.agent_keys.0 = "a1=p1/server-1".into();
        config.monitors.heartbeat_keys.0 = "h1 = p2/beat-1".into();
        let store = KeyStore::from_config(&config).unwrap();
        let m = store.agent("a1").unwrap();
        assert_eq!((&*m.project, &*m.monitor), ("p1", "server-1"));
        assert!(store.heartbeat("a1").is_none());
        assert_eq!(&*store.heartbeat("h1").unwrap().monitor, "beat-1");
        assert!(store.agent("t").is_none());
        config.monitors.agent_keys.0 = "a1=p1".into();
        let e = KeyStore::from_config(&config).unwrap_err().to_string();
        assert!(e.contains("monitors.agent_keys"), "{e}");
        // Keys are held as digests only.
        assert!(!format!("{store:?}").contains("a1"));
        assert!(!format!("{:?}", store.keys.load().agents).contains("a1"));
    }
}

/// The Forward listener's secrets: shared keys (each selecting a project), optionally users
/// for the handshake's password check, and the key-login shared key (with which the
/// handshake's username is a project's ingestion key). The Forward protocol needs the keys
/// themselves (its digests are salted per connection), so these are kept as configured,
/// never logged.
#[derive(Clone, Default)]
pub struct ForwardKeys {
    shared: Arc<Vec<(String, Arc<str>)>>,
    users: Arc<HashMap<Vec<u8>, String>>,
    login: Option<Arc<str>>,
}

impl fmt::Debug for ForwardKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ForwardKeys({} shared keys, {} users, key login {})",
            self.shared.len(),
            self.users.len(),
            if self.login.is_some() { "on" } else { "off" }
        )
    }
}

impl ForwardKeys {
    /// Parses `key=project,…` and `user=password,…`; `login` (when not empty) is the shared
    /// key of ingestion-key logins.
    pub fn parse(shared: &str, users: &str, login: &str) -> Result<Self, TokenListError> {
        let shared = entries(shared, "forward.shared_keys", "shared_key=project")
            .map(|e| e.map(|(k, p)| (k.to_owned(), Arc::from(p))))
            .collect::<Result<_, _>>()?;
        let users = entries(users, "forward.users", "user=password")
            .map(|e| e.map(|(u, p)| (u.as_bytes().to_vec(), p.to_owned())))
            .collect::<Result<_, _>>()?;
        let login = Some(login.trim()).filter(|l| !l.is_empty()).map(Arc::from);
        Ok(Self {
            shared: Arc::new(shared),
            users: Arc::new(users),
            login,
        })
    }

    /// Whether connections must complete the handshake.
    pub fn handshake(&self) -> bool {
        !self.shared.is_empty() || self.login.is_some()
    }

    /// Whether the HELO asks for a username (configured users, or ingestion-key logins).
    pub fn user_auth(&self) -> bool {
        !self.users.is_empty() || self.login.is_some()
    }

    /// Whether configured users' passwords are checked.
    pub(crate) fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// The shared key of ingestion-key logins, when they are on.
    pub(crate) fn login_key(&self) -> Option<&str> {
        self.login.as_deref()
    }

    pub(crate) fn shared_keys(&self) -> impl Iterator<Item = (&str, Arc<str>)> {
        self.shared.iter().map(|(k, p)| (k.as_str(), p.clone()))
    }

    pub(crate) fn password(&self, user: &[u8]) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }
}
