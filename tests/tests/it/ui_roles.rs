//! Every page of a project for each role, through a real server as a browser without
//! JavaScript: each answers 200 and escapes what people typed (a monitor, an incident and a
//! note named like a script); a viewer gets no write control on any of them while a member
//! and an admin get theirs; every write form of these pages refuses a missing or wrong CSRF
//! token and changes nothing; and the forms do what they say (a monitor made and changed
//! through them, its refusals shown next to the field).

use reqwest::{Method, StatusCode};
use serde_json::json;
use tests::control::{ControlPlane, accounts};

use super::ui::{Browser, attribute, select};

const XSS: &str = "<script>alert(1)</script>";

#[tokio::test(flavor = "multi_thread")]
async fn every_project_page_for_each_role_escapes_and_guards_its_writes() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &["mia", "vic"]).await;
    let project = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &admin,
            Some(json!({"name": "Shop"})),
        )
        .await;
    let p = project["id"].as_str().unwrap().to_owned();
    cp.join(&p, &admin, "mia@vigil.test", "member").await;
    cp.join(&p, &admin, "vic@vigil.test", "viewer").await;
    let monitor = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            Some(json!({"name": format!("Shop {XSS}"), "kind": "http",
                        "settings": {"url": "https://shop.test/"}})),
        )
        .await;
    let m = monitor["monitor"]["id"].as_str().unwrap().to_owned();
    let severities = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incident-severities"),
            &admin,
            None,
        )
        .await;
    let severity = severities["items"][0]["id"].clone();
    let incident = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/incidents"),
            &admin,
            Some(
                json!({"title": format!("Down {XSS}"), "severity_id": severity,
                        "monitor_ids": [m]}),
            ),
        )
        .await;
    let i = incident["id"].as_str().unwrap().to_owned();
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/incidents/{i}/notes"),
        &admin,
        Some(json!({"note": format!("note {XSS}")})),
    )
    .await;
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/probes"),
        &admin,
        Some(json!({"name": format!("probe {XSS}")})),
    )
    .await;
    let channel = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/notification-channels"),
            &admin,
            Some(json!({"name": format!("hook {XSS}"), "kind": "webhook",
                        "settings": {"url": "http://127.0.0.1:9/hook"}})),
        )
        .await;
    let c = channel["channel"]["id"].as_str().unwrap().to_owned();
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/maintenance-windows"),
        &admin,
        Some(
            json!({"title": format!("upgrade {XSS}"), "starts_at": "2030-01-01T00:00:00Z",
                    "ends_at": "2030-01-01T01:00:00Z", "monitor_ids": [m]}),
        ),
    )
    .await;
    let status_page = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/status-pages"),
            &admin,
            Some(json!({"name": format!("Status {XSS}"), "slug": "roles"})),
        )
        .await;
    let sp = status_page["id"].as_str().unwrap().to_owned();
    cp.ok(
        Method::PUT,
        &format!("/api/v1/projects/{p}/status-pages/{sp}/layout"),
        &admin,
        Some(json!({"groups": [{"name": format!("group {XSS}"),
                                "resources": [{"monitor_id": m}]}]})),
    )
    .await;
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/status-pages/{sp}/announcements"),
        &admin,
        Some(json!({"title": format!("news {XSS}"), "body": XSS})),
    )
    .await;
    cp.ok(
        Method::POST,
        &format!("/api/v1/projects/{p}/incidents/{i}/public-updates"),
        &admin,
        Some(json!({"status": "identified", "body": format!("public {XSS}")})),
    )
    .await;

    let pages = [
        format!("/projects/{p}"),
        format!("/projects/{p}/monitors/{m}"),
        format!("/projects/{p}/monitors/{m}?range=90d"),
        format!("/projects/{p}/incidents"),
        format!("/projects/{p}/incidents/{i}"),
        format!("/projects/{p}/probes"),
        format!("/projects/{p}/getting-data-in"),
        format!("/projects/{p}/members"),
        format!("/projects/{p}/keys"),
        format!("/projects/{p}/channels"),
        format!("/projects/{p}/channels/{c}"),
        format!("/projects/{p}/maintenance"),
        format!("/projects/{p}/settings"),
        format!("/projects/{p}/logs"),
        format!("/projects/{p}/traces"),
        format!("/projects/{p}/metrics"),
        format!("/projects/{p}/exceptions"),
        format!("/projects/{p}/status-pages"),
        format!("/projects/{p}/status-pages/{sp}"),
        "/status/roles".to_owned(),
    ];
    // The write forms a role gets on those pages (the sign-out form aside).
    let writes = |html: &str| {
        let doc = scraper::Html::parse_document(html);
        let forms = scraper::Selector::parse("form[method=post]").unwrap();
        doc.select(&forms)
            .filter_map(|f| f.value().attr("action"))
            .filter(|a| *a != "/logout")
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    for (email, role) in [
        ("admin@vigil.test", "admin"),
        ("mia@vigil.test", "member"),
        ("vic@vigil.test", "viewer"),
    ] {
        let mut b = Browser::new(&cp);
        b.sign_in(email).await;
        let mut all_writes = Vec::new();
        for page in &pages {
            let (status, headers, html) = b.get(page).await;
            // Viewers are not shown ingestion keys or channels (the API's rule), nor links.
            if role == "viewer" && (page.ends_with("/keys") || page.contains("/channels")) {
                assert_eq!(status, StatusCode::FORBIDDEN);
                continue;
            }
            assert_eq!(status, StatusCode::OK, "{role} {page}");
            assert!(!html.contains(XSS), "{role} {page}: unescaped text");
            // The public page is the same for everyone, and has its own (public) forms.
            if page.starts_with("/status/") {
                continue;
            }
            assert_eq!(
                select(&html, "nav.sections a[href$='/keys']").len(),
                usize::from(role != "viewer"),
                "{role} {page}"
            );
            assert!(
                headers["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .contains("script-src 'self'")
            );
            assert!(!html.contains(XSS), "{role} {page}: unescaped text");
            assert!(
                !html.contains("<script>alert"),
                "{role} {page}: unescaped text"
            );
            all_writes.extend(writes(&html));
        }
        let has = |suffix: &str| all_writes.iter().any(|a| a.ends_with(suffix));
        match role {
            "viewer" => assert_eq!(
                all_writes,
                Vec::<String>::new(),
                "a viewer's write controls"
            ),
            "member" => {
                assert!(has("/enabled") && has("/incidents") && has("/notes"));
                assert!(has("/maintenance") && has("/cancel"));
                assert!(has("/status-pages") && has("/layout") && has("/settings"));
                assert!(has("/public-updates") && has("/visibility") && has("/remove"));
                // Members neither register probes, invite, make keys, channels or statuses.
                assert!(!has("/probes") && !has("/members") && !has("/keys"));
                assert!(!has("/channels") && !has("/test") && !has("/settings/statuses"));
            }
            _ => {
                assert!(has("/probes") && has("/members") && has("/keys") && has("/enabled"));
                assert!(has("/channels") && has("/test") && has("/settings/severities"));
            }
        }
        // Their text is shown, as text.
        let (_, _, html) = b.get(&pages[0]).await;
        assert_eq!(
            select(&html, "#monitor-list tbody td:nth-child(2) a"),
            [format!("Shop {XSS}")]
        );
        let (_, _, html) = b.get(&pages[4]).await;
        assert!(
            select(&html, ".timeline .note")
                .iter()
                .any(|n| n == &format!("note {XSS}"))
        );
    }

    // Every write of these pages refuses a wrong or missing token, and changes nothing.
    let mut b = Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    // The incidents filter by severity: the incident under its own, none under another.
    let other = severities["items"][1]["id"].as_str().unwrap();
    for (severity, want) in [(severity.as_str().unwrap(), 1), (other, 0)] {
        let (_, _, html) = b
            .get(&format!("/projects/{p}/incidents?severity={severity}"))
            .await;
        assert_eq!(select(&html, "#incident-list tbody tr").len(), want);
    }
    let forged = [
        format!("/projects/{p}/monitors?kind=http"),
        format!("/projects/{p}/monitors/{m}/edit"),
        format!("/projects/{p}/monitors/{m}/enabled"),
        format!("/projects/{p}/monitors/{m}/delete"),
        format!("/projects/{p}/incidents"),
        format!("/projects/{p}/incidents/{i}/acknowledge"),
        format!("/projects/{p}/incidents/{i}/resolve"),
        format!("/projects/{p}/incidents/{i}/notes"),
        format!("/projects/{p}/probes"),
        format!("/projects/{p}/getting-data-in/key"),
        format!("/projects/{p}/channels"),
        format!("/projects/{p}/channels/{c}/test"),
        format!("/projects/{p}/channels/{c}/enabled"),
        format!("/projects/{p}/channels/{c}/settings"),
        format!("/projects/{p}/channels/{c}/delete"),
        format!("/projects/{p}/maintenance"),
        format!("/projects/{p}/settings/statuses"),
        format!("/projects/{p}/status-pages"),
        format!("/projects/{p}/status-pages/{sp}/settings"),
        format!("/projects/{p}/status-pages/{sp}/layout"),
        format!("/projects/{p}/status-pages/{sp}/announcements"),
        format!("/projects/{p}/status-pages/{sp}/delete"),
        format!("/projects/{p}/incidents/{i}/public-updates"),
        format!("/projects/{p}/incidents/{i}/visibility"),
    ];
    for path in &forged {
        for token in [None, Some("forged")] {
            let mut form = vec![
                ("name", "Forged"),
                ("url", "https://evil.test/"),
                ("note", "forged"),
                ("title", "forged"),
                ("enabled", "false"),
                ("kind", "webhook"),
                ("color", "#123456"),
                ("starts", "2030-01-01T00:00"),
                ("ends", "2030-01-01T01:00"),
            ];
            if let Some(t) = token {
                form.push(("csrf_token", t));
            }
            let (status, _, _) = b.post(path, &form).await;
            assert!(
                status == StatusCode::FORBIDDEN || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{path} with {token:?}: {status}"
            );
        }
    }
    let after = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/monitors/{m}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(after["name"], format!("Shop {XSS}"));
    assert_eq!(after["enabled"], true);
    let list = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/monitors"),
            &admin,
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let detail = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents/{i}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(detail["state_kind"], "created");
    assert_eq!(detail["timeline"].as_array().unwrap().len(), 2);
    let probes = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/probes"),
            &admin,
            None,
        )
        .await;
    assert_eq!(probes["items"].as_array().unwrap().len(), 1);
    let hooks = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/notification-channels"),
            &admin,
            None,
        )
        .await;
    assert_eq!(hooks["items"][0]["name"], format!("hook {XSS}"));
    assert_eq!(
        hooks["items"][0]["settings"]["url"],
        "http://127.0.0.1:9/hook"
    );
    for (path, want) in [
        (format!("/api/v1/projects/{p}/notification-channels"), 1),
        (
            format!("/api/v1/projects/{p}/notification-channels/{c}/deliveries"),
            0,
        ),
        (format!("/api/v1/projects/{p}/maintenance-windows"), 1),
        (format!("/api/v1/projects/{p}/monitor-statuses"), 3),
        (format!("/api/v1/projects/{p}/status-pages"), 1),
        (
            format!("/api/v1/projects/{p}/status-pages/{sp}/announcements"),
            1,
        ),
    ] {
        let list = cp.ok(Method::GET, &path, &admin, None).await;
        assert_eq!(list["items"].as_array().unwrap().len(), want, "{path}");
    }
    let updates = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/incidents/{i}/public-updates"),
            &admin,
            None,
        )
        .await;
    assert_eq!(updates.as_array().unwrap().len(), 1);
    assert_eq!(detail["hidden_from_status_pages"], false);

    // A member's forged write with a valid token of their own: refused where the role is.
    let mut member = Browser::new(&cp);
    member.sign_in("mia@vigil.test").await;
    let (_, _, html) = member.get(&pages[0]).await;
    let token = attribute(&html, "input[name=csrf_token]", "value");
    let (status, _, _) = member
        .post(
            &format!("/projects/{p}/probes"),
            &[("csrf_token", &token), ("name", "sneaky")],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The monitor form: a refusal next to its field, what was typed kept; then a change.
    let edit = format!("/projects/{p}/monitors/{m}/edit");
    let (_, _, html) = b.get(&edit).await;
    let token = attribute(&html, "input[name=csrf_token]", "value");
    let (status, _, html) = b
        .post(
            &edit,
            &[
                ("csrf_token", &token),
                ("name", "Shop"),
                ("url", "https://shop.test/"),
                ("interval_secs", "5"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let alerts = select(&html, "[role=alert]");
    assert!(
        select(&html, "#timing-error")
            .first()
            .is_some_and(|e| e.contains("interval_secs is 10 to 86400")),
        "{alerts:?}"
    );
    assert_eq!(attribute(&html, "#interval_secs", "value"), "5");
    let (status, headers, _) = b
        .post(
            &edit,
            &[
                ("csrf_token", &token),
                ("name", "Shop"),
                ("url", "https://shop.test/v2"),
                ("interval_secs", "30"),
                ("enabled", "on"),
                ("custom_criteria", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers["location"].to_str().unwrap(),
        format!("/projects/{p}/monitors/{m}")
    );
    let changed = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/monitors/{m}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(changed["name"], "Shop");
    assert_eq!(changed["interval_secs"], 30);
    assert_eq!(changed["settings"]["url"], "https://shop.test/v2");
    // The form sent no criterion: the monitor has none now, as the form showed.
    assert_eq!(changed["criteria"], json!([]));

    // The other forms do what they say: a severity, a maintenance window (UTC), its cancel.
    let (_, _, html) = b.get(&pages[0]).await;
    let token = attribute(&html, "input[name=csrf_token]", "value");
    let (status, _, _) = b
        .post(
            &format!("/projects/{p}/settings/severities"),
            &[
                ("csrf_token", &token),
                ("name", "Cosmetic"),
                ("color", "#aabbcc"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = b.get(&format!("/projects/{p}/settings")).await;
    assert!(select(&html, "li strong").contains(&"Cosmetic".to_owned()));
    let (status, _, html) = b
        .post(
            &format!("/projects/{p}/maintenance"),
            &[
                ("csrf_token", &token),
                ("title", "DB upgrade"),
                ("starts", "2031-05-01T10:00"),
                ("ends", "2031-05-01T09:00"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(select(&html, "[role=alert]")[0].contains("ends_at must follow starts_at"));
    let (status, _, _) = b
        .post(
            &format!("/projects/{p}/maintenance"),
            &[
                ("csrf_token", &token),
                ("title", "DB upgrade"),
                ("starts", "2031-05-01T10:00"),
                ("ends", "2031-05-01T11:30"),
                ("monitor", &m),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let windows = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/maintenance-windows"),
            &admin,
            None,
        )
        .await;
    let upgrade = windows["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["title"] == "DB upgrade")
        .unwrap();
    assert_eq!(upgrade["starts_at"], "2031-05-01T10:00:00Z");
    assert_eq!(upgrade["ends_at"], "2031-05-01T11:30:00Z");
    assert_eq!(upgrade["monitor_ids"], json!([m]));
    let cancel = format!(
        "/projects/{p}/maintenance/{}/cancel",
        upgrade["id"].as_str().unwrap()
    );
    let (status, _, _) = b.post(&cancel, &[("csrf_token", &token)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let windows = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/maintenance-windows"),
            &admin,
            None,
        )
        .await;
    assert_eq!(windows["items"].as_array().unwrap().len(), 1);
}
