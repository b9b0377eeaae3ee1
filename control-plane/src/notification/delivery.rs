//! Sending one notification: a signed JSON POST (webhook), a Slack message, or a mail. Each
//! attempt is bounded by the worker's `notify_timeout_ms`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;

use super::http::HttpClient;
use super::{
    ChannelKind, EmailSettings, NotifyError, SlackSettings, SmtpSecurity, WebhookSettings,
};

/// One queued notification and its channel.
pub(crate) struct Delivery {
    pub id: Uuid,
    pub event: String,
    pub payload: Value,
    pub kind: ChannelKind,
    pub settings: Value,
}

/// Webhook signature: hex HMAC-SHA256 over `<timestamp>.<body>` with the channel's secret,
/// sent as `x-vigil-signature: sha256=<hex>` beside `x-vigil-timestamp`.
pub(crate) fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn summary(d: &Delivery) -> &str {
    d.payload["summary"].as_str().unwrap_or(&d.event)
}

/// Sends `d` once; the error says why it failed (for the retry log and `last_error`).
pub(crate) async fn send(
    http: &HttpClient,
    d: &Delivery,
    timeout: Duration,
) -> Result<(), NotifyError> {
    let parse = |what| NotifyError::Internal(format!("stored {what} settings are unreadable"));
    match d.kind {
        ChannelKind::Webhook => {
            let s: WebhookSettings =
                serde_json::from_value(d.settings.clone()).map_err(|_| parse("webhook"))?;
            let body =
                serde_json::to_vec(&d.payload).map_err(|e| NotifyError::Send(e.to_string()))?;
            let timestamp = chrono::Utc::now().timestamp().to_string();
            let signature = signature(s.secret.as_deref().unwrap_or(""), &timestamp, &body);
            let headers = [
                ("x-vigil-event", d.event.clone()),
                ("x-vigil-delivery", d.id.to_string()),
                ("x-vigil-signature", format!("sha256={signature}")),
                ("x-vigil-timestamp", timestamp),
            ];
            http.post_json(&s.url, &headers, body, timeout).await
        }
        ChannelKind::Slack => {
            let s: SlackSettings =
                serde_json::from_value(d.settings.clone()).map_err(|_| parse("slack"))?;
            let text = d.payload["text"].as_str().unwrap_or(summary(d));
            let body = serde_json::to_vec(&serde_json::json!({ "text": text }))
                .map_err(|e| NotifyError::Send(e.to_string()))?;
            http.post_json(&s.url, &[], body, timeout).await
        }
        ChannelKind::Email => {
            let s: EmailSettings =
                serde_json::from_value(d.settings.clone()).map_err(|_| parse("email"))?;
            http.egress()
                .check_resolved(&s.host, s.port, timeout)
                .await
                .map_err(|e| NotifyError::Send(format!("smtp: {e}")))?;
            mail(&s, d, timeout).await
        }
    }
}

async fn mail(s: &EmailSettings, d: &Delivery, timeout: Duration) -> Result<(), NotifyError> {
    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| NotifyError::Send(format!("address {a:?}: {e}")))
    };
    let mut message = Message::builder()
        .from(mailbox(&s.from)?)
        .subject(summary(d))
        .header(lettre::message::header::ContentType::TEXT_PLAIN);
    for to in &s.to {
        message = message.to(mailbox(to)?);
    }
    // A message written for people (a status page subscriber's) is sent as written; a
    // channel's carries its summary and the event's details.
    let body = match d.payload["text"].as_str() {
        Some(text) => text.to_owned(),
        None => {
            let details = serde_json::to_string_pretty(&d.payload).unwrap_or_default();
            format!("{}\n\n{details}\n", summary(d))
        }
    };
    let message = message
        .body(body)
        .map_err(|e| NotifyError::Send(format!("building the mail: {e}")))?;
    let builder = match s.security {
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
            .map_err(|e| NotifyError::Send(format!("smtp: {e}")))?,
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
            .map_err(|e| NotifyError::Send(format!("smtp: {e}")))?,
    };
    let mut builder = builder.port(s.port).timeout(Some(timeout));
    if let Some(user) = &s.username {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            s.password.clone().unwrap_or_default(),
        ));
    }
    let transport = builder.build();
    tokio::time::timeout(timeout, transport.send(message))
        .await
        .map_err(|_| NotifyError::Send(format!("smtp: no answer within {timeout:?}")))?
        .map(|_| ())
        .map_err(|e| NotifyError::Send(format!("smtp: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_and_body() {
        // Python: hmac.new(b"Jefe", b'1700000000.{"event":"incident.opened"}', sha256).
        assert_eq!(
            signature("Jefe", "1700000000", br#"{"event":"incident.opened"}"#),
            "241f7969b338c5f77046daa6ad3a31301ff6e7be2d0eed198d3a0b48071b4009"
        );
    }
}
