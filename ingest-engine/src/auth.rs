//! Ingestion tokens: which project a request writes to.
//!
//! Until the control plane serves keys (issue 5), the key store is the static
//! `VIGIL_INGEST_TOKENS` map. Tokens are secrets: they are never logged or echoed back.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

/// Resolves tokens to project ids.
#[derive(Clone, Default)]
pub struct KeyStore {
    tokens: Arc<HashMap<String, Arc<str>>>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyStore({} tokens)", self.tokens.len())
    }
}

/// A `token=project,…` list that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid ingest token list: {0}")]
pub struct TokenListError(String);

impl KeyStore {
    /// Parses `token=project,token2=project2` (whitespace around entries is ignored).
    pub fn parse(list: &str) -> Result<Self, TokenListError> {
        let mut tokens = HashMap::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((token, project)) = entry.split_once('=') else {
                return Err(TokenListError("each entry must be `token=project`".into()));
            };
            let (token, project) = (token.trim(), project.trim());
            if token.is_empty() || project.is_empty() {
                return Err(TokenListError("token and project must not be empty".into()));
            }
            tokens.insert(token.to_owned(), Arc::from(project));
        }
        Ok(Self {
            tokens: Arc::new(tokens),
        })
    }

    /// How many tokens are known.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether no token is known (every request will be refused).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The project of the token carried by `headers`, if the token is known.
    ///
    /// Accepted: `Authorization: Bearer <t>`, `x-vigil-token`, and OneUptime's
    /// `x-oneuptime-token`, so existing collector configurations work unchanged.
    pub fn project_for(&self, headers: &HeaderMap) -> Option<Arc<str>> {
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let token = bearer
            .or_else(|| headers.get("x-vigil-token").and_then(|v| v.to_str().ok()))
            .or_else(|| {
                headers
                    .get("x-oneuptime-token")
                    .and_then(|v| v.to_str().ok())
            })?;
        self.tokens.get(token.trim()).cloned()
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
}

/// The Forward listener's secrets: shared keys (each selecting a project) and, optionally,
/// users for the handshake's password check. The Forward protocol needs the keys themselves
/// (its digests are salted per connection), so these are kept as configured, never logged.
#[derive(Clone, Default)]
pub struct ForwardKeys {
    shared: Arc<Vec<(String, Arc<str>)>>,
    users: Arc<HashMap<Vec<u8>, String>>,
}

impl fmt::Debug for ForwardKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ForwardKeys({} shared keys, {} users)",
            self.shared.len(),
            self.users.len()
        )
    }
}

impl ForwardKeys {
    /// Parses `key=project,…` and `user=password,…`.
    pub fn parse(shared: &str, users: &str) -> Result<Self, TokenListError> {
        let pairs = |list: &str, what: &str| -> Result<Vec<(String, String)>, TokenListError> {
            list.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(|entry| match entry.split_once('=') {
                    Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                        Ok((a.trim().to_owned(), b.trim().to_owned()))
                    }
                    _ => Err(TokenListError(format!("each entry must be `{what}`"))),
                })
                .collect()
        };
        let shared = pairs(shared, "shared_key=project")?
            .into_iter()
            .map(|(k, p)| (k, Arc::from(p)))
            .collect();
        let users = pairs(users, "user=password")?
            .into_iter()
            .map(|(u, p)| (u.into_bytes(), p))
            .collect();
        Ok(Self {
            shared: Arc::new(shared),
            users: Arc::new(users),
        })
    }

    /// Whether connections must complete the handshake.
    pub fn handshake(&self) -> bool {
        !self.shared.is_empty()
    }

    /// Whether the handshake also checks a username and password.
    pub fn user_auth(&self) -> bool {
        !self.users.is_empty()
    }

    pub(crate) fn shared_keys(&self) -> impl Iterator<Item = (&str, Arc<str>)> {
        self.shared.iter().map(|(k, p)| (k.as_str(), p.clone()))
    }

    pub(crate) fn password(&self, user: &[u8]) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }
}
