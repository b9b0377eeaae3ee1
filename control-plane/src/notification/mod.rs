//! Notifications: channels (webhook, SMTP email, Slack incoming webhook) and their settings,
//! the outbox changes queue into, delivery to each kind, and the worker's sender.

pub(crate) mod delivery;
pub(crate) mod egress;
pub(crate) mod http;
pub(crate) mod outbox;
pub(crate) mod sender;
pub(crate) mod subscriber;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Where a channel delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// JSON POSTed to a URL, HMAC-SHA256 signed.
    Webhook,
    /// Mail through an SMTP server.
    Email,
    /// A Slack incoming webhook.
    Slack,
}

impl ChannelKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Email => "email",
            ChannelKind::Slack => "slack",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookSettings {
    pub url: String,
    /// The signing key; generated when absent, shown once.
    #[serde(default)]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlackSettings {
    pub url: String,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SmtpSecurity {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
}

/// Why a channel's settings were refused or a delivery failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NotifyError {
    /// The channel's settings are not valid (the API answers 400).
    #[error("{0}")]
    Settings(String),
    /// The target is a private or local address and those are not allowed.
    #[error("{0}")]
    Refused(String),
    /// Sending failed: resolving, connecting, the receiver's answer, SMTP (retried).
    #[error("{0}")]
    Send(String),
    /// Vigil's own fault: stored settings unreadable, TLS set-up, serialising.
    #[error("{0}")]
    Internal(String),
}

impl From<NotifyError> for crate::error::ApiError {
    fn from(e: NotifyError) -> Self {
        match e {
            NotifyError::Settings(m) | NotifyError::Refused(m) | NotifyError::Send(m) => {
                crate::error::ApiError::BadRequest(m)
            }
            NotifyError::Internal(m) => crate::error::ApiError::Internal(m),
        }
    }
}

fn http_url(url: &str) -> Result<(), NotifyError> {
    http::is_http_url(url).then_some(()).ok_or_else(|| {
        NotifyError::Settings(
            "settings: url must be an http(s) URL of at most 2048 characters".into(),
        )
    })
}

fn address(a: &str) -> Result<(), NotifyError> {
    a.parse::<lettre::Address>()
        .map(|_| ())
        .map_err(|_| NotifyError::Settings(format!("settings: {a:?} is not an email address")))
}

/// Checks `settings` for `kind`; returns them normalised (a webhook gets a secret) and the
/// secret to show once, if one was generated.
pub(crate) fn check_settings(
    kind: ChannelKind,
    settings: Value,
) -> Result<(Value, Option<String>), NotifyError> {
    fn parse<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T, NotifyError> {
        serde_json::from_value(v).map_err(|e| NotifyError::Settings(format!("settings: {e}")))
    }
    fn back<T: Serialize>(t: &T) -> Result<Value, NotifyError> {
        serde_json::to_value(t).map_err(|e| NotifyError::Internal(e.to_string()))
    }
    match kind {
        ChannelKind::Webhook => {
            let mut s: WebhookSettings = parse(settings)?;
            http_url(&s.url)?;
            let mut shown = None;
            match &s.secret {
                Some(k) if (16..=256).contains(&k.len()) => {}
                Some(_) => {
                    return Err(NotifyError::Settings(
                        "settings: a secret has 16 to 256 characters".into(),
                    ));
                }
                None => {
                    let k = crate::secret::generate(crate::secret::WEBHOOK_SECRET)
                        .map_err(|e| NotifyError::Settings(e.to_string()))?;
                    shown = Some(k.clone());
                    s.secret = Some(k);
                }
            }
            Ok((back(&s)?, shown))
        }
        ChannelKind::Slack => {
            let s: SlackSettings = parse(settings)?;
            http_url(&s.url)?;
            Ok((back(&s)?, None))
        }
        ChannelKind::Email => {
            let s: EmailSettings = parse(settings)?;
            if s.host.trim().is_empty() || s.host.len() > 253 || s.port == 0 {
                return Err(NotifyError::Settings(
                    "settings: host and port (1 to 65535) are needed".into(),
                ));
            }
            if s.to.is_empty() || s.to.len() > 50 {
                return Err(NotifyError::Settings("settings: 1 to 50 recipients".into()));
            }
            address(&s.from)?;
            s.to.iter().try_for_each(|a| address(a))?;
            if s.password.is_some() && s.username.is_none() {
                return Err(NotifyError::Settings(
                    "settings: a password needs a username".into(),
                ));
            }
            Ok((back(&s)?, None))
        }
    }
}

/// New settings for a channel whose stored ones are `old`: a secret the new ones leave out is
/// kept — the API never shows secrets back, so a client changing a URL cannot resend them, and
/// a webhook's signing key rotated silently (or an SMTP password dropped) would break every
/// delivery after. A webhook keeps its signing key; an email channel keeps its password while
/// the username stays the same. Sending a secret replaces it.
pub(crate) fn keep_secrets(kind: ChannelKind, mut new: Value, old: &Value) -> Value {
    let kept = match kind {
        ChannelKind::Webhook => "secret",
        ChannelKind::Email
            if new.get("username").is_some() && new.get("username") == old.get("username") =>
        {
            "password"
        }
        ChannelKind::Email | ChannelKind::Slack => return new,
    };
    // `null` counts as left out: a key generated here would never be shown.
    if let (Some(object), Some(stored)) = (new.as_object_mut(), old.get(kept))
        && object.get(kept).is_none_or(Value::is_null)
    {
        object.insert(kept.to_owned(), stored.clone());
    }
    new
}

/// `settings` as shown by the API: secrets and passwords left out.
pub(crate) fn shown_settings(mut settings: Value) -> Value {
    if let Some(object) = settings.as_object_mut() {
        object.remove("secret");
        object.remove("password");
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_settings_keep_the_secrets_they_leave_out() {
        let old = json!({"url": "https://a.test/", "secret": "k".repeat(32)});
        let new = keep_secrets(
            ChannelKind::Webhook,
            json!({"url": "https://b.test/"}),
            &old,
        );
        assert_eq!(
            new,
            json!({"url": "https://b.test/", "secret": "k".repeat(32)})
        );
        let null = keep_secrets(
            ChannelKind::Webhook,
            json!({"url": "https://b.test/", "secret": null}),
            &old,
        );
        assert_eq!(null["secret"], "k".repeat(32));
        let rotated = json!({"url": "https://b.test/", "secret": "n".repeat(32)});
        assert_eq!(
            keep_secrets(ChannelKind::Webhook, rotated.clone(), &old),
            rotated
        );
        let old = json!({"host": "smtp.test", "username": "u", "password": "p"});
        let same_user = json!({"host": "smtp2.test", "username": "u"});
        assert_eq!(
            keep_secrets(ChannelKind::Email, same_user, &old)["password"],
            "p"
        );
        let other_user = json!({"host": "smtp.test", "username": "v"});
        assert!(
            keep_secrets(ChannelKind::Email, other_user, &old)
                .get("password")
                .is_none()
        );
        let no_user = json!({"host": "smtp.test"});
        assert!(
            keep_secrets(ChannelKind::Email, no_user, &old)
                .get("password")
                .is_none()
        );
    }

    #[test]
    fn channel_settings_are_checked_and_secrets_hidden() {
        let (s, shown) =
            check_settings(ChannelKind::Webhook, json!({"url": "https://hooks.test/x"})).unwrap();
        let secret = shown.unwrap();
        assert_eq!(s["secret"], secret.as_str());
        assert_eq!(shown_settings(s), json!({"url": "https://hooks.test/x"}));
        let email = json!({"host": "smtp.test", "port": 25, "security": "none",
                           "from": "vigil@ops.test", "to": ["oncall@ops.test"]});
        assert!(check_settings(ChannelKind::Email, email).is_ok());
        for (kind, bad) in [
            (ChannelKind::Webhook, json!({"url": "ftp://x"})),
            (
                ChannelKind::Webhook,
                json!({"url": "https://x", "secret": "short"}),
            ),
            (ChannelKind::Slack, json!({"url": "not a url"})),
            (
                ChannelKind::Email,
                json!({"host": "h", "port": 25, "security": "none",
                                         "from": "nope", "to": ["a@b.test"]}),
            ),
            (
                ChannelKind::Email,
                json!({"host": "h", "port": 25, "security": "none",
                                         "from": "a@b.test", "to": []}),
            ),
        ] {
            assert!(check_settings(kind, bad.clone()).is_err(), "{bad}");
        }
    }
}
