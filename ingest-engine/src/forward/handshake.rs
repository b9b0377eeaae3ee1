//! The Forward `shared_key` handshake (HELO → PING → PONG) with optional user authentication.
//! The shared key the client proves also selects the project its events go to.

use std::sync::Arc;

use sha2::{Digest, Sha512};

use super::msgpack::{write_array_len, write_bin, write_bool, write_map_len, write_str};
use crate::auth::{ForwardKeys, KeyDigest, KeyStore};

/// What the server sent in its HELO.
pub(crate) struct Helo {
    pub(crate) nonce: [u8; 16],
    /// Salt for password digests; empty when no user authentication is configured.
    pub(crate) auth_salt: Vec<u8>,
}

impl Helo {
    /// A fresh HELO (random nonce and salt).
    pub(crate) fn new(user_auth: bool) -> std::io::Result<Self> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut auth_salt = Vec::new();
        if user_auth {
            auth_salt = vec![0u8; 16];
            getrandom::fill(&mut auth_salt).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        Ok(Self { nonce, auth_salt })
    }

    /// `["HELO", {"nonce": …, "auth": …, "keepalive": true}]`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        write_array_len(&mut out, 2);
        write_str(&mut out, b"HELO");
        write_map_len(&mut out, 3);
        // Random bytes go as bin, as Fluentd sends them: a client that decodes a str as
        // UTF-8 would compute its digests over other bytes.
        write_str(&mut out, b"nonce");
        write_bin(&mut out, &self.nonce);
        write_str(&mut out, b"auth");
        write_bin(&mut out, &self.auth_salt);
        write_str(&mut out, b"keepalive");
        write_bool(&mut out, true);
        out
    }
}

/// Lowercase hex of SHA-512 over the concatenated parts.
pub(crate) fn digest(parts: &[&[u8]]) -> String {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn same(a: &[u8], b: &[u8]) -> bool {
    // Compare every byte so the time taken does not tell where a guess went wrong.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The outcome of a PING: the PONG to send and, when accepted, the project (and, for an
/// ingestion-key login, the key's digest, checked again before each frame is stored).
pub(crate) struct Verdict {
    pub(crate) pong: Vec<u8>,
    pub(crate) project: Option<Arc<str>>,
    pub(crate) login: Option<KeyDigest>,
}

/// Checks `["PING", hostname, salt, digest, username, password_digest]` against the configured
/// shared keys (and users, when configured), then against the key-login shared key with the
/// username as an ingestion key of `store`.
pub(crate) fn verify(
    helo: &Helo,
    ping: [&[u8]; 5],
    keys: &ForwardKeys,
    store: &KeyStore,
    server_hostname: &str,
) -> Verdict {
    let [hostname, salt, client_digest, username, password_digest] = ping;
    let matches = |key: &str| {
        same(
            digest(&[salt, hostname, &helo.nonce, key.as_bytes()]).as_bytes(),
            client_digest,
        )
    };
    let found = keys.shared_keys().find(|(key, _)| matches(key));
    let Some((key, project)) = found else {
        // An ingestion-key login: the username is the key (its password is not used).
        return match keys.login_key().filter(|key| matches(key)) {
            None => refuse("shared key mismatch"),
            Some(key) => match std::str::from_utf8(username)
                .ok()
                .and_then(|u| store.token(u))
            {
                Some((project, login)) => {
                    accept(salt, server_hostname, helo, key, project, Some(login))
                }
                None => refuse("username is not a live ingestion key"),
            },
        };
    };
    if keys.has_users() {
        let ok = keys.password(username).is_some_and(|password| {
            same(
                digest(&[&helo.auth_salt, username, password.as_bytes()]).as_bytes(),
                password_digest,
            )
        });
        if !ok {
            return refuse("username/password mismatch");
        }
    }
    accept(salt, server_hostname, helo, key, project, None)
}

/// The PONG of an accepted PING, proving the server knows `key` too.
fn accept(
    salt: &[u8],
    server_hostname: &str,
    helo: &Helo,
    key: &str,
    project: Arc<str>,
    login: Option<KeyDigest>,
) -> Verdict {
    let server_digest = digest(&[
        salt,
        server_hostname.as_bytes(),
        &helo.nonce,
        key.as_bytes(),
    ]);
    let mut pong = Vec::with_capacity(200);
    write_array_len(&mut pong, 5);
    write_str(&mut pong, b"PONG");
    write_bool(&mut pong, true);
    write_str(&mut pong, b"");
    write_str(&mut pong, server_hostname.as_bytes());
    write_str(&mut pong, server_digest.as_bytes());
    Verdict {
        pong,
        project: Some(project),
        login,
    }
}

fn refuse(reason: &str) -> Verdict {
    let mut pong = Vec::with_capacity(64);
    write_array_len(&mut pong, 5);
    write_str(&mut pong, b"PONG");
    write_bool(&mut pong, false);
    write_str(&mut pong, reason.as_bytes());
    write_str(&mut pong, b"");
    write_str(&mut pong, b"");
    Verdict {
        pong,
        project: None,
        login: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Forward protocol v1 digests, SHA-512 over the concatenated parts (PING/PONG:
    // salt, hostname, nonce, shared key; password: auth salt, username, password), for the
    // nonce 00 01 … 0f. Computed independently, e.g. in Python:
    // hashlib.sha512(b"0123456789abcdef" + b"client.example.com" + bytes(range(16)) + b"secret").
    const PING: &str = "cc564f81f30110b6a42bddda34ea41ff3d862de1bd60294aed31bd74b58924047588494a9d637f41dfeba48e4acbda1c79d1c141200cdcbc763d206c9267db80";
    const PONG: &str = "befd63f9c44796247896fa49e77eca67cbc9121e14644c97ba6ef9374c281fedd2bd852c7abc2b7fbb24c9ae11d88f4d38546e63a1f759b290773c9037667583";
    const PASSWORD: &str = "3fa6b88e4f20de4a698f3b46f05f3141430b0527b039c4964339525bd5a3f847d45d110253c257590f623922ddc84fc941c178a5199d40c12d8825c57d7b59a7";

    fn helo(auth: &[u8]) -> Helo {
        let mut nonce = [0u8; 16];
        for (i, b) in nonce.iter_mut().enumerate() {
            *b = i as u8;
        }
        Helo {
            nonce,
            auth_salt: auth.to_vec(),
        }
    }

    #[test]
    fn digests_match_the_reference_vectors() {
        let h = helo(b"");
        let salt = b"0123456789abcdef";
        assert_eq!(
            digest(&[salt, b"client.example.com", &h.nonce, b"secret"]),
            PING
        );
        assert_eq!(
            digest(&[salt, b"server.example.com", &h.nonce, b"secret"]),
            PONG
        );
        assert_eq!(digest(&[b"fedcba9876543210", b"alice", b"pa55"]), PASSWORD);
    }

    #[test]
    fn right_key_selects_its_project_and_wrong_ones_are_refused() {
        let keys = ForwardKeys::parse("other=p2,secret=p1", "alice=pa55", "").unwrap();
        let store = KeyStore::parse("").unwrap();
        let h = helo(b"fedcba9876543210");
        let ping = |digest: &'static str, pw: &'static str| -> [&'static [u8]; 5] {
            [
                b"client.example.com",
                b"0123456789abcdef",
                digest.as_bytes(),
                b"alice",
                pw.as_bytes(),
            ]
        };
        let v = verify(
            &h,
            ping(PING, PASSWORD),
            &keys,
            &store,
            "server.example.com",
        );
        assert_eq!(v.project.as_deref(), Some("p1"));
        assert!(v.pong.windows(PONG.len()).any(|w| w == PONG.as_bytes()));
        assert!(
            verify(&h, ping(PONG, PASSWORD), &keys, &store, "s")
                .project
                .is_none()
        );
        assert!(
            verify(&h, ping(PING, PING), &keys, &store, "s")
                .project
                .is_none()
        );
    }
}
