//! The UI's static files, embedded in the binary and served under content-hashed names with
//! immutable caching: a new build with a changed file gets a new name, so no browser keeps a
//! stale copy, and no page loads anything from another origin. The vendored files (htmx, its
//! SSE extension, uPlot) are pinned in `assets/vendor/SHA256SUMS`, refreshed by
//! `assets/vendor/refresh.sh`; a unit test holds the embedded bytes to those sums.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub(super) struct Asset {
    /// The name pages use in `url()`: `app.css`, `htmx.min.js`…
    name: &'static str,
    bytes: &'static [u8],
    content_type: &'static str,
    /// `<stem>.<first 12 hex digits of its SHA-256>.<extension>`.
    hashed: String,
}

macro_rules! asset {
    ($name:literal, $path:literal, $type:expr) => {
        ($name, include_bytes!($path).as_slice(), $type)
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        asset!("app.css", "../../assets/app.css", CSS),
        asset!("app.js", "../../assets/app.js", JS),
        asset!("status.css", "../../assets/status.css", CSS),
        asset!("favicon.svg", "../../assets/favicon.svg", "image/svg+xml"),
        asset!("htmx.min.js", "../../assets/vendor/htmx.min.js", JS),
        asset!("htmx-sse.min.js", "../../assets/vendor/htmx-sse.min.js", JS),
        asset!(
            "uPlot.iife.min.js",
            "../../assets/vendor/uPlot.iife.min.js",
            JS
        ),
        asset!("uPlot.min.css", "../../assets/vendor/uPlot.min.css", CSS),
    ]
    .into_iter()
    .map(|(name, bytes, content_type)| {
        let digest = Sha256::digest(bytes);
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        let (stem, extension) = name.rsplit_once('.').unwrap_or((name, ""));
        Asset {
            name,
            bytes,
            content_type,
            hashed: format!("{stem}.{hex}.{extension}"),
        }
    })
    .collect()
});

/// The URL of the embedded file `name` (a name not embedded gets a URL that answers 404, and
/// the unit test below catches it in templates).
pub(crate) fn url(name: &str) -> String {
    let hashed = ASSETS
        .iter()
        .find(|a| a.name == name)
        .map_or(name, |a| a.hashed.as_str());
    format!("/assets/{hashed}")
}

pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.hashed == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_files_match_their_pinned_sums() {
        let sums = include_str!("../../assets/vendor/SHA256SUMS");
        let mut checked = 0;
        for line in sums.lines() {
            let (sum, name) = line.split_once("  ").expect("`<sum>  <name>` lines");
            let asset = ASSETS
                .iter()
                .find(|a| a.name == name)
                .unwrap_or_else(|| panic!("{name} is pinned but not embedded"));
            let hex: String = Sha256::digest(asset.bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(hex, sum, "{name} differs from its pinned sum");
            checked += 1;
        }
        assert_eq!(checked, 4);
    }

    #[test]
    fn every_asset_has_a_hashed_name() {
        for asset in ASSETS.iter() {
            assert!(url(asset.name).starts_with("/assets/"));
            assert_ne!(asset.hashed, asset.name);
        }
    }
}
