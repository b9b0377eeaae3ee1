//! Secrets handed out once (session tokens, API keys, ingestion keys): random, with a prefix
//! that says what they are, and stored only as SHA-256 digests. They carry 256 random bits,
//! so a fast digest is enough; passwords, chosen by people, get argon2id (`password.rs`).

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A new secret: `prefix` then 43 characters of base64url (32 random bytes).
pub(crate) fn generate(prefix: &str) -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The stored form of a secret: its SHA-256, hex.
pub(crate) fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What is shown of a stored secret: enough to tell keys apart, useless to an attacker.
pub(crate) fn hint(secret: &str) -> String {
    secret.chars().take(12).collect()
}

/// Prefixes of the secrets Vigil issues.
pub(crate) const SESSION: &str = "vss_";
pub(crate) const CSRF: &str = "vcs_";
pub(crate) const API_KEY: &str = "vak_";
pub(crate) const INGESTION_KEY: &str = "vik_";
pub(crate) const MONITOR_KEY: &str = "vmk_";
pub(crate) const PROBE_KEY: &str = "vpk_";
pub(crate) const WEBHOOK_SECRET: &str = "vws_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_digested() {
        let a = generate(API_KEY).unwrap();
        let b = generate(API_KEY).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("vak_") && a.len() == 4 + 43);
        assert_eq!(digest("abc").len(), 64);
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
