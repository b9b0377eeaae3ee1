//! Operators build a status page through the UI's forms (no script): a page, its layout
//! table, settings with refusals shown, an announcement, a public update and hiding an
//! incident — and the public page follows within 2 s.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tests::monitoring::setup_with;
use tests::wait_until;

use crate::status_pages::{Client, http_monitor, text};
use crate::ui::select;

#[tokio::test]
async fn operators_build_a_status_page_through_the_ui_forms() {
    use crate::ui::{Browser, attribute};
    let (cp, admin, p) = setup_with(|_| {}).await;
    let db = http_monitor(&cp, &admin, &p, "db").await;
    http_monitor(&cp, &admin, &p, "queue").await;
    let mut b = Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    let (_, _, html) = b.get(&format!("/projects/{p}/status-pages")).await;
    let token = attribute(&html, "input[name=csrf_token]", "value");
    // A bad slug comes back with the reason, a good one opens the page's settings.
    let (status, _, html) = b
        .post(
            &format!("/projects/{p}/status-pages"),
            &[
                ("csrf_token", &token),
                ("name", "Shop"),
                ("slug", "No Good"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text(&html, ".error").contains("slug"), "{html}");
    let (status, headers, _) = b
        .post(
            &format!("/projects/{p}/status-pages"),
            &[
                ("csrf_token", &token),
                ("name", "Shop"),
                ("slug", "shop-ui"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let edit = headers["location"].to_str().unwrap().to_owned();
    let (status, _, html) = b.get(&edit).await;
    assert_eq!(status, StatusCode::OK);
    // The layout table: the monitors in rows; show the database as "Database" in "Core".
    let rows = select(&html, "input[type=hidden][name^=monitor_]");
    assert_eq!(rows.len(), 2);
    let index = (0..2)
        .find(|i| attribute(&html, &format!("input[name=monitor_{i}]"), "value") == db)
        .unwrap()
        .to_string();
    let field = |name: &str| format!("{name}_{index}");
    let (status, _, _) = b
        .post(
            &format!("{edit}/layout"),
            &[
                ("csrf_token", &token),
                (
                    "monitor_0",
                    &attribute(&html, "input[name=monitor_0]", "value"),
                ),
                (
                    "monitor_1",
                    &attribute(&html, "input[name=monitor_1]", "value"),
                ),
                (&field("show"), "on"),
                (&field("name"), "Database"),
                (&field("group"), "Core"),
                (&field("position"), "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = b
        .post(
            &format!("{edit}/settings"),
            &[
                ("csrf_token", &token),
                ("name", "Shop status"),
                ("slug", "shop-ui"),
                ("description", "All about the shop"),
                ("brand_color", "#AA3300"),
                ("time_zone", "Europe/Berlin"),
                ("footer_links", "Home | https://shop.test"),
                ("visibility", "public"),
                ("domains", ""),
                ("subscriber_channel_id", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, html) = b
        .post(
            &format!("{edit}/settings"),
            &[
                ("csrf_token", &token),
                ("name", "Shop status"),
                ("slug", "shop-ui"),
                ("brand_color", "#aa3300"),
                ("time_zone", "Mars/Base"),
                ("visibility", "public"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text(&html, ".error").contains("time zone"));
    b.post(
        &format!("{edit}/announcements"),
        &[
            ("csrf_token", &token),
            ("title", "Moving house"),
            ("body", "New servers on Monday."),
        ],
    )
    .await;

    let client = Client::new(&cp);
    let (status, _, public) = client.get("/status/shop-ui", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text(&public, "header h1"), "Shop status");
    assert_eq!(select(&public, ".name"), ["Core", "Database"]);
    assert!(public.contains("New servers on Monday."));
    assert!(text(&public, "footer").contains("Europe/Berlin"));
    let (_, _, css) = client.get("/status/shop-ui/theme.css", &[]).await;
    assert!(css.contains("#aa3300"));

    // An incident of the database, told to the public from the incident's page, then hidden.
    let severities = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incident-severities"),
            &admin,
            None,
        )
        .await;
    let incident = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/incidents"),
            &admin,
            Some(
                json!({"title": "Slow queries", "severity_id": severities["items"][2]["id"],
                        "monitor_ids": [db]}),
            ),
        )
        .await;
    let i = incident["id"].as_str().unwrap();
    let (status, _, _) = b
        .post(
            &format!("/projects/{p}/incidents/{i}/public-updates"),
            &[
                ("csrf_token", &token),
                ("status", "identified"),
                ("body", "An index is missing."),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, detail) = b.get(&format!("/projects/{p}/incidents/{i}")).await;
    assert!(text(&detail, "#public-updates").contains("An index is missing."));
    // Changes show within 2 s (the snapshot is rebuilt when the change is heard).
    let shown = |what: &'static str, check: fn(&str) -> bool| {
        let client = &client;
        async move {
            wait_until(Duration::from_secs(2), what, || async {
                let (_, _, public) = client.get("/status/shop-ui", &[]).await;
                check(&public).then_some(public)
            })
            .await
        }
    };
    let public = shown("the public update", |html| {
        text(html, "#active-incidents ~ article").contains("An index is missing.")
    })
    .await;
    assert_eq!(text(&public, ".banner"), "Minor Service Outage");
    b.post(
        &format!("/projects/{p}/incidents/{i}/visibility"),
        &[("csrf_token", &token), ("hidden", "true")],
    )
    .await;
    let public = shown("the incident hidden", |html| !html.contains("Slow queries")).await;
    assert_eq!(text(&public, ".banner"), "All Systems Operational");
}
