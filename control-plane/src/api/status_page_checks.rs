//! What a status page's settings may be: slug, colour, texts, the host names it claims, its
//! time zone and its subscriber channel — each refused with a message saying what is allowed.
//! Called by the page's create and change functions, which the API and the operator UI's forms
//! share.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ApiError;

/// Most host names a page claims.
const MAX_DOMAINS: usize = 10;

/// Refuses a subscriber channel that is not one of the project's email channels.
pub(super) async fn check_mail_channel(
    db: &mut PgConnection,
    project_id: Uuid,
    channel: Option<Uuid>,
) -> Result<(), ApiError> {
    let Some(channel) = channel else {
        return Ok(());
    };
    let found: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM notification_channels WHERE project_id = $1 AND id = $2 AND kind = 'email'",
    )
    .bind(project_id)
    .bind(channel)
    .fetch_optional(db)
    .await?;
    if found.is_none() {
        return Err(ApiError::BadRequest(
            "subscriber_channel_id must be one of this project's email channels".into(),
        ));
    }
    Ok(())
}

/// 1 to 64 lower-case letters, digits and dashes (the page's address under `/status/`).
pub(super) fn check_slug(slug: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !ok {
        return Err(ApiError::BadRequest(
            "a slug needs 1 to 64 lower-case letters, digits and dashes, not at either end".into(),
        ));
    }
    Ok(())
}

/// `#rrggbb`, lower-case.
pub(super) fn check_color(color: &str) -> Result<(), ApiError> {
    let ok = color.len() == 7
        && color.starts_with('#')
        && color[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !ok {
        return Err(ApiError::BadRequest(
            "a colour is #rrggbb in lower-case hex".into(),
        ));
    }
    Ok(())
}

/// At most `max` characters of `what`.
pub(super) fn check_text(what: &str, text: &str, max: usize) -> Result<(), ApiError> {
    if text.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "{what} may have at most {max} characters"
        )));
    }
    Ok(())
}

/// Host names, lower-cased and checked; a port or a scheme is refused.
pub(super) fn check_domains(domains: &[String]) -> Result<Vec<String>, ApiError> {
    if domains.len() > MAX_DOMAINS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_DOMAINS} domains"
        )));
    }
    let mut hosts = Vec::with_capacity(domains.len());
    for domain in domains {
        let host = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let ok = (1..=253).contains(&host.len())
            && host.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !ok {
            return Err(ApiError::BadRequest(format!(
                "{domain:?} is not a host name (no scheme, port or path)"
            )));
        }
        hosts.push(host);
    }
    hosts.sort();
    hosts.dedup();
    Ok(hosts)
}

/// A time zone PostgreSQL knows by name.
pub(super) async fn check_time_zone(db: &mut PgConnection, zone: &str) -> Result<(), ApiError> {
    let known: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_timezone_names WHERE name = $1")
        .bind(zone)
        .fetch_optional(db)
        .await?;
    if known.is_none() {
        return Err(ApiError::BadRequest(format!(
            "{zone:?} is not a time zone name (e.g. Europe/Berlin, UTC)"
        )));
    }
    Ok(())
}
