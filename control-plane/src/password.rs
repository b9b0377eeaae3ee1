//! Password hashes: argon2id with the crate's default (OWASP) parameters, computed on the
//! blocking pool so that a burst of logins never stalls the async runtime.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::ApiError;

/// Shortest password accepted.
pub(crate) const MIN_LEN: usize = 10;
/// Longest password accepted (argon2 takes any length; this bounds the work per request).
pub(crate) const MAX_LEN: usize = 256;

/// Checks a new password: its length, no control characters, and not guessable — the
/// `zxcvbn` estimator (common passwords, names, words, repeats, sequences, keyboard patterns,
/// the account's own email and name) must put it beyond 10^10 guesses.
pub(crate) fn check(password: &str, account: &[&str]) -> Result<(), ApiError> {
    let len = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(ApiError::BadRequest(format!(
            "a password needs {MIN_LEN} to {MAX_LEN} characters"
        )));
    }
    if password.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "a password cannot contain control characters".into(),
        ));
    }
    let estimate = zxcvbn::zxcvbn(password, account);
    if estimate.score() < zxcvbn::Score::Three {
        let mut why = "this password is too easy to guess".to_owned();
        if let Some(feedback) = estimate.feedback() {
            if let Some(warning) = feedback.warning() {
                why.push_str(&format!(": {warning}"));
            }
            for suggestion in feedback.suggestions() {
                why.push_str(&format!(" {suggestion}"));
            }
        }
        return Err(ApiError::BadRequest(why));
    }
    Ok(())
}

/// The PHC string of `password` with a fresh salt.
pub(crate) async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Whether `password` matches the PHC string `stored`.
pub(crate) async fn verify(password: String, stored: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// A hash to verify against when the account does not exist, so that a login for an unknown
/// email takes as long as one with a wrong password.
pub(crate) const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Gt6xlOqcUj/+CKDXoIOW8WhN/jMrW28Ox1cjn0gaoR0";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let stored = hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify("correct horse battery".into(), stored.clone())
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse battery".into(), stored).await.unwrap());
        assert!(
            !verify("anything at all".into(), DECOY.into())
                .await
                .unwrap()
        );
    }
}
