//! The admin's forms, through a real server as a browser without JavaScript: a member's role
//! changed (the last owner kept, the refusal shown), an invitation withdrawn, a member removed
//! after confirming, an API key shown once, working with its role and revoked, and an account
//! made by the instance admin only.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tests::control::{ControlPlane, accounts};

use super::ui::{Browser, attribute, select};

#[tokio::test(flavor = "multi_thread")]
async fn admins_manage_members_api_keys_and_accounts_through_forms() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &["mia"]).await;
    let project = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &admin,
            Some(json!({"name": "Shop"})),
        )
        .await;
    let p = project["id"].as_str().unwrap().to_owned();
    let (_, _) = cp.join(&p, &admin, "mia@vigil.test", "member").await;
    let mut b = Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    let members = format!("/projects/{p}/members");
    let (_, _, html) = b.get(&members).await;
    let token = attribute(&html, "input[name=csrf_token]", "value");
    // Mia's role form, found by her row.
    let doc = scraper::Html::parse_document(&html);
    let row = scraper::Selector::parse("tbody tr").unwrap();
    let form = scraper::Selector::parse("form[action$='/role']").unwrap();
    let mia_action = doc
        .select(&row)
        .find(|r| r.text().any(|t| t.contains("mia@vigil.test")))
        .and_then(|r| r.select(&form).next())
        .and_then(|f| f.value().attr("action"))
        .unwrap()
        .to_owned();

    // Role change through the form: Mia becomes a viewer.
    let (status, _, _) = b
        .post(&mia_action, &[("csrf_token", &token), ("role", "viewer")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let list = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/members"),
            &admin,
            None,
        )
        .await;
    let mia = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "mia@vigil.test")
        .unwrap()
        .clone();
    assert_eq!(mia["role"], "viewer");
    // The last owner cannot be demoted: the refusal is shown on the page.
    let own = format!(
        "/projects/{p}/members/{}/role",
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == "admin@vigil.test")
            .unwrap()["user_id"]
            .as_str()
            .unwrap()
    );
    let (status, _, html) = b
        .post(&own, &[("csrf_token", &token), ("role", "member")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(!select(&html, "[role=alert]").is_empty());

    // An invitation, withdrawn.
    b.post(
        &members,
        &[
            ("csrf_token", &token),
            ("email", "zoe@vigil.test"),
            ("role", "member"),
        ],
    )
    .await;
    let (_, _, html) = b.get(&members).await;
    let withdraw = attribute(&html, "form[action$='/withdraw']", "action");
    assert!(select(&html, ".invitations li span")[0].contains("zoe@vigil.test"));
    let (status, _, _) = b.post(&withdraw, &[("csrf_token", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let open = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/invitations"),
            &admin,
            None,
        )
        .await;
    assert_eq!(open["items"], json!([]));

    // Removal after the confirmation page.
    let remove = format!(
        "/projects/{p}/members/{}/remove",
        mia["user_id"].as_str().unwrap()
    );
    let (status, _, html) = b.get(&remove).await;
    assert_eq!(status, StatusCode::OK);
    assert!(select(&html, "main p")[0].contains("mia@vigil.test"));
    let (status, _, _) = b.post(&remove, &[("csrf_token", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let list = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/members"),
            &admin,
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // An API key: shown once, works against the API with its role, revoked after confirming.
    let keys = format!("/projects/{p}/api-keys");
    let (status, _, html) = b
        .post(
            &keys,
            &[
                ("csrf_token", &token),
                ("name", "ci"),
                ("role", "viewer"),
                ("expires", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = attribute(&html, "#api-secret", "value");
    let http = reqwest::Client::new();
    let monitors = format!("{}/api/v1/projects/{p}/monitors", cp.base);
    let read = http
        .get(&monitors)
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let (_, _, html) = b.get(&keys).await;
    assert!(!html.contains(&secret));
    let revoke = attribute(&html, "a[href$='/revoke']", "href");
    let (status, _, _) = b.post(&revoke, &[("csrf_token", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let read = http
        .get(&monitors)
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::UNAUTHORIZED);

    // An account: made by the instance admin, refused to anyone else.
    let (status, _, html) = b
        .post(
            "/accounts",
            &[
                ("csrf_token", &token),
                ("name", "Zoe"),
                ("email", "zoe@vigil.test"),
                ("password", tests::control::PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{html}");
    let mut zoe = Browser::new(&cp);
    zoe.sign_in("zoe@vigil.test").await;
    let (status, _, _) = zoe.get("/accounts").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_change_a_channels_settings_through_its_form_and_secrets_stay() {
    let (cp, admin, p) =
        tests::monitoring::setup_with(|c| c.worker.notify_allow_private_networks = false).await;
    let channels = format!("/api/v1/projects/{p}/notification-channels");
    let create = |body: serde_json::Value| cp.ok(Method::POST, &channels, &admin, Some(body));
    let mail = create(json!({"name": "Mail", "kind": "email", "settings": {
        "host": "smtp.example.com", "port": 587, "security": "starttls",
        "username": "vigil", "password": "hunter2-but-longer",
        "from": "vigil@example.com", "to": ["oncall@example.com", "lead@example.com"]}}))
    .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut b = Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;

    // The form shows what is stored, never the password.
    let page = format!("/projects/{p}/channels/{mail}");
    let (status, _, html) = b.get(&page).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(attribute(&html, "#smtp-host", "value"), "smtp.example.com");
    assert_eq!(
        attribute(&html, "#smtp-to", "value"),
        "oncall@example.com, lead@example.com"
    );
    assert!(!html.contains("hunter2"));
    let csrf = attribute(&html, "input[name=csrf_token]", "value");
    let form = |host: &'static str, to: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("kind", "email".to_owned()),
            ("name", "Mail (ops)".to_owned()),
            ("host", host.to_owned()),
            ("port", "465".to_owned()),
            ("security", "tls".to_owned()),
            ("username", "vigil".to_owned()),
            ("password", String::new()),
            ("from", "vigil@example.com".to_owned()),
            ("to", to.to_owned()),
        ]
    };
    let settings = format!("{page}/settings");
    // Refused (a private address): said next to the form, what was typed kept, nothing saved.
    let refused = form("10.0.0.25", "ops@example.com");
    let (status, _, html) = b.post(&settings, &borrowed(&refused)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!select(&html, "[role=alert]").is_empty(), "{html}");
    assert_eq!(attribute(&html, "#smtp-host", "value"), "10.0.0.25");
    let stored = cp.ok(Method::GET, &channels, &admin, None).await;
    assert_eq!(stored["items"][0]["settings"]["host"], "smtp.example.com");
    // Saved: the new settings, and the password left blank stays as it was.
    let saved = form("smtp2.example.com", "ops@example.com");
    let (status, headers, _) = b.post(&settings, &borrowed(&saved)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], format!("{page}?saved=1"));
    let stored = cp.ok(Method::GET, &channels, &admin, None).await;
    let channel = &stored["items"][0];
    assert_eq!(channel["name"], "Mail (ops)");
    assert_eq!(
        channel["settings"],
        json!({"host": "smtp2.example.com", "port": 465, "security": "tls",
               "username": "vigil", "from": "vigil@example.com", "to": ["ops@example.com"]})
    );
    let pool = sqlx::PgPool::connect(&cp.database_url).await.unwrap();
    let (password,): (Option<String>,) = sqlx::query_as(
        "SELECT settings->>'password' FROM notification_channels WHERE id = $1::uuid",
    )
    .bind(&mail)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(password.as_deref(), Some("hunter2-but-longer"));
    let (_, _, html) = b.get(&format!("{page}?saved=1")).await;
    assert!(select(&html, "[role=status]")[0].contains("saved"));
}

/// A form's fields as `Browser::post` takes them.
fn borrowed<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_rename_and_recolour_a_status_through_its_form() {
    let (cp, admin, p) = tests::monitoring::setup().await;
    let statuses = format!("/api/v1/projects/{p}/monitor-statuses");
    let before = cp.ok(Method::GET, &statuses, &admin, None).await;
    let first = before["items"][0].clone();
    let id = first["id"].as_str().unwrap();
    let mut b = Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    let (_, _, html) = b.get(&format!("/projects/{p}/settings")).await;
    assert_eq!(
        attribute(&html, &format!("#status-{id}-name"), "value"),
        first["name"].as_str().unwrap()
    );
    let token = attribute(&html, "input[name=csrf_token]", "value");
    let path = format!("/projects/{p}/settings/statuses/{id}");
    // A colour that is not one is refused with why; a forged token changes nothing either.
    let (status, _, html) = b
        .post(
            &path,
            &[("csrf_token", &token), ("name", "Up"), ("color", "red")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        select(&html, "[role=alert]")[0].contains("#rrggbb"),
        "{html}"
    );
    let (status, _, _) = b
        .post(
            &path,
            &[
                ("csrf_token", "forged"),
                ("name", "Up"),
                ("color", "#000000"),
            ],
        )
        .await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status}"
    );
    assert_eq!(cp.ok(Method::GET, &statuses, &admin, None).await, before);
    // Saved: the new name and colour; what the status means stays.
    let (status, headers, _) = b
        .post(
            &path,
            &[
                ("csrf_token", &token),
                ("name", "Up and running"),
                ("color", "#00AA00"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], format!("/projects/{p}/settings"));
    let after = cp.ok(Method::GET, &statuses, &admin, None).await;
    let changed = &after["items"][0];
    assert_eq!(changed["id"], first["id"]);
    assert_eq!(changed["name"], "Up and running");
    assert_eq!(changed["color"], "#00aa00");
    assert_eq!(changed["is_operational"], first["is_operational"]);
    assert_eq!(changed["is_offline"], first["is_offline"]);
}
