//! What a status page subscriber's messages link to: the page (its custom domain when it has
//! one) and the unsubscribe link, whose key is derived from the subscriber's stored token
//! digest so that the worker can put it in every message without knowing the token.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The key of a subscriber's unsubscribe link, derived from its stored token digest so the
/// worker can put it in every message.
pub(crate) fn unsubscribe_key(token_digest: &str) -> String {
    Sha256::digest(format!("unsubscribe:{token_digest}").as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where a page is read from outside: `https://<its first domain>` when it claims one (TLS is
/// terminated in front), else `<public_url>/status/<slug>`.
pub(crate) fn page_url(public_url: &str, slug: &str, domain: Option<&str>) -> String {
    match domain {
        Some(domain) => format!("https://{domain}"),
        None => format!("{}/status/{slug}", public_url.trim_end_matches('/')),
    }
}

/// The link a subscriber leaves with.
pub(crate) fn unsubscribe_url(page_url: &str, id: Uuid, token_digest: &str) -> String {
    format!(
        "{page_url}/subscription/unsubscribe?id={id}&key={}",
        unsubscribe_key(token_digest)
    )
}
