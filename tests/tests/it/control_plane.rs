//! The control plane's API against a real PostgreSQL: accounts, sessions and CSRF, failed-login
//! limits, projects and their isolation, roles, API keys and ingestion keys, the OpenAPI
//! document.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::control::{Auth, ControlPlane, PASSWORD, accounts};

#[tokio::test(flavor = "multi_thread")]
async fn accounts_sessions_csrf_and_failed_login_limits() {
    let cp = ControlPlane::start(|c| c.login_max_failures = 3).await;
    let first = cp
        .answer(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/auth/signup",
            &Auth::None,
            Some(json!({"email": " Admin@Vigil.TEST ", "name": "Admin", "password": PASSWORD})),
        )
        .await;
    assert_eq!(first["email"], "admin@vigil.test");
    assert_eq!(first["is_admin"], true);
    // Sign-up is closed once an account exists; bad input is refused with the error shape.
    let body = cp
        .answer(
            StatusCode::FORBIDDEN,
            Method::POST,
            "/api/v1/auth/signup",
            &Auth::None,
            Some(json!({"email": "b@vigil.test", "name": "B", "password": PASSWORD})),
        )
        .await;
    assert_eq!(body["error"]["code"], "forbidden");
    let body = cp
        .answer(
            StatusCode::BAD_REQUEST,
            Method::POST,
            "/api/v1/auth/login",
            &Auth::None,
            Some(json!({"email": "admin@vigil.test"})),
        )
        .await;
    assert_eq!(body["error"]["code"], "bad_request");

    let admin = cp.login("admin@vigil.test", PASSWORD).await;
    let me = cp.ok(Method::GET, "/api/v1/me", &admin, None).await;
    assert_eq!(me["id"], first["id"]);
    let Auth::Session { cookie, .. } = &admin else {
        unreachable!()
    };
    // A cookie-authenticated write without the CSRF token changes nothing.
    let no_csrf = Auth::Session {
        cookie: cookie.clone(),
        csrf: None,
    };
    let body = cp
        .answer(
            StatusCode::FORBIDDEN,
            Method::POST,
            "/api/v1/projects",
            &no_csrf,
            Some(json!({"name": "p"})),
        )
        .await;
    assert_eq!(body["error"]["code"], "csrf");
    let projects = cp.ok(Method::GET, "/api/v1/projects", &admin, None).await;
    assert_eq!(projects["items"], json!([]));

    // Accounts by the admin; a duplicate email is a conflict; short passwords are refused.
    let new = json!({"email": "bob@vigil.test", "name": "Bob", "password": PASSWORD});
    cp.ok(Method::POST, "/api/v1/users", &admin, Some(new.clone()))
        .await;
    cp.answer(
        StatusCode::CONFLICT,
        Method::POST,
        "/api/v1/users",
        &admin,
        Some(new),
    )
    .await;
    cp.answer(
        StatusCode::BAD_REQUEST,
        Method::POST,
        "/api/v1/users",
        &admin,
        Some(json!({"email": "c@vigil.test", "name": "C", "password": "short"})),
    )
    .await;
    // Only admins make accounts.
    let bob = cp.login("bob@vigil.test", PASSWORD).await;
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        "/api/v1/users",
        &bob,
        Some(json!({"email": "d@vigil.test", "name": "D", "password": PASSWORD})),
    )
    .await;

    // Sign-out ends the session on the server.
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::POST,
        "/api/v1/auth/logout",
        &admin,
        None,
    )
    .await;
    let body = cp
        .answer(
            StatusCode::UNAUTHORIZED,
            Method::GET,
            "/api/v1/me",
            &admin,
            None,
        )
        .await;
    assert_eq!(body["error"]["code"], "unauthenticated");

    // Failed logins: three wrong passwords, then even the right one waits.
    for _ in 0..3 {
        let body = cp
            .answer(
                StatusCode::UNAUTHORIZED,
                Method::POST,
                "/api/v1/auth/login",
                &Auth::None,
                Some(json!({"email": "bob@vigil.test", "password": "wrong password!"})),
            )
            .await;
        assert_eq!(body["error"]["code"], "bad_credentials");
    }
    let (status, body, headers) = cp
        .call(
            Method::POST,
            "/api/v1/auth/login",
            &Auth::None,
            Some(json!({"email": "bob@vigil.test", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry));
}

#[tokio::test(flavor = "multi_thread")]
async fn projects_are_isolated_roles_are_enforced_and_keys_work_until_revoked() {
    let cp = ControlPlane::start(|_| {}).await;
    accounts(&cp, &["bob", "carol"]).await;
    let bob = cp.login("bob@vigil.test", PASSWORD).await;
    let carol = cp.login("carol@vigil.test", PASSWORD).await;
    let project = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &bob,
            Some(json!({"name": "Shop"})),
        )
        .await;
    assert_eq!(project["role"], "owner");
    let p = project["id"].as_str().unwrap().to_owned();
    let other = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &carol,
            Some(json!({"name": "Carol's"})),
        )
        .await;
    let q = other["id"].as_str().unwrap().to_owned();

    // Another project's objects are 404, like missing ones.
    for (path, method) in [
        (format!("/api/v1/projects/{p}"), Method::GET),
        (format!("/api/v1/projects/{p}/members"), Method::GET),
        (format!("/api/v1/projects/{p}/ingestion-keys"), Method::GET),
        (format!("/api/v1/projects/{p}"), Method::DELETE),
    ] {
        cp.answer(StatusCode::NOT_FOUND, method, &path, &carol, None)
            .await;
    }
    let listed = cp.ok(Method::GET, "/api/v1/projects", &carol, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], q.as_str());

    // Carol joins as a viewer: she reads, she does not manage.
    let (_, added) = cp.join(&p, &bob, "carol@vigil.test", "viewer").await;
    assert_eq!(added["role"], "viewer");
    assert_eq!(added["id"], p.as_str());
    let seen = cp
        .ok(Method::GET, &format!("/api/v1/projects/{p}"), &carol, None)
        .await;
    assert_eq!(seen["role"], "viewer");
    let members = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/members?limit=1"),
            &carol,
            None,
        )
        .await;
    assert_eq!(members["items"].as_array().unwrap().len(), 1);
    assert_eq!(members["next_offset"], 1);
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &format!("/api/v1/projects/{p}/ingestion-keys"),
        &carol,
        Some(json!({"name": "k"})),
    )
    .await;
    // The last owner stays an owner.
    let bob_id = cp.ok(Method::GET, "/api/v1/me", &bob, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cp.answer(
        StatusCode::CONFLICT,
        Method::PATCH,
        &format!("/api/v1/projects/{p}/members/{bob_id}"),
        &bob,
        Some(json!({"role": "admin"})),
    )
    .await;
    // An admin cannot make owners.
    let carol_id = cp.ok(Method::GET, "/api/v1/me", &carol, None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cp.ok(
        Method::PATCH,
        &format!("/api/v1/projects/{p}/members/{carol_id}"),
        &bob,
        Some(json!({"role": "admin"})),
    )
    .await;
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::PATCH,
        &format!("/api/v1/projects/{p}/members/{carol_id}"),
        &carol,
        Some(json!({"role": "owner"})),
    )
    .await;

    // An API key: its project only, its role only, until revoked.
    let created = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/api-keys"),
            &bob,
            Some(json!({"name": "ci", "role": "member"})),
        )
        .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("vak_"));
    assert_eq!(created["key"]["hint"], &secret[..12]);
    let key = Auth::Bearer(secret.clone());
    let listed = cp.ok(Method::GET, "/api/v1/projects", &key, None).await;
    assert_eq!(listed["items"][0]["id"], p.as_str());
    assert_eq!(listed["items"][0]["role"], "member");
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::GET,
        &format!("/api/v1/projects/{q}"),
        &key,
        None,
    )
    .await;
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &format!("/api/v1/projects/{p}/api-keys"),
        &key,
        Some(json!({"name": "more", "role": "member"})),
    )
    .await;
    cp.answer(StatusCode::FORBIDDEN, Method::GET, "/api/v1/me", &key, None)
        .await;
    let keys = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/api-keys"),
            &bob,
            None,
        )
        .await;
    assert!(
        !keys.to_string().contains(&secret),
        "secrets are never listed"
    );
    let key_id = created["key"]["id"].as_str().unwrap();
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("/api/v1/projects/{p}/api-keys/{key_id}"),
        &bob,
        None,
    )
    .await;
    cp.answer(
        StatusCode::UNAUTHORIZED,
        Method::GET,
        "/api/v1/projects",
        &key,
        None,
    )
    .await;

    // Ingestion keys: created with their secret once, listed without it, revoked.
    let created = cp
        .ok(
            Method::POST,
            &format!("/api/v1/projects/{p}/ingestion-keys"),
            &bob,
            Some(json!({"name": "collector"})),
        )
        .await;
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("vik_"));
    let id = created["key"]["id"].as_str().unwrap();
    let listed = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/ingestion-keys"),
            &bob,
            None,
        )
        .await;
    assert_eq!(listed["items"][0]["id"], id);
    assert_eq!(listed["items"][0]["revoked_at"], Value::Null);
    assert!(!listed.to_string().contains(secret));
    // Revoking it through another project is a 404 and changes nothing.
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::DELETE,
        &format!("/api/v1/projects/{q}/ingestion-keys/{id}"),
        &carol,
        None,
    )
    .await;
    cp.ok(
        Method::DELETE,
        &format!("/api/v1/projects/{p}/ingestion-keys/{id}"),
        &bob,
        None,
    )
    .await;
    let listed = cp
        .ok(
            Method::GET,
            &format!("/api/v1/projects/{p}/ingestion-keys"),
            &bob,
            None,
        )
        .await;
    assert!(listed["items"][0]["revoked_at"].is_string());

    // Owners delete projects; nobody sees them afterwards.
    cp.ok(Method::DELETE, &format!("/api/v1/projects/{p}"), &bob, None)
        .await;
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::GET,
        &format!("/api/v1/projects/{p}"),
        &carol,
        None,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_route() {
    let cp = ControlPlane::start(|_| {}).await;
    let doc = cp
        .ok(Method::GET, "/api/v1/openapi.json", &Auth::None, None)
        .await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/projects/{project_id}/members/{user_id}",
        "/api/v1/projects/{project_id}/api-keys/{key_id}",
        "/api/v1/projects/{project_id}/ingestion-keys",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    // A monitor's settings are typed: one schema per kind.
    let settings = &doc["components"]["schemas"]["NewMonitor"]["properties"]["settings"];
    let kinds = settings["anyOf"]
        .as_array()
        .expect("settings schemas per kind");
    assert_eq!(kinds.len(), 6, "{settings}");
    let telemetry = kinds
        .iter()
        .find(|k| k["properties"].get("window_secs").is_some())
        .expect("the logs/traces/metrics settings");
    for field in ["query", "metric", "service", "measure"] {
        assert!(telemetry["properties"].get(field).is_some(), "{telemetry}");
    }
    let http = kinds
        .iter()
        .find(|k| k["properties"].get("url").is_some())
        .expect("the http/api settings");
    assert_eq!(http["required"], json!(["url"]), "{http}");
    let body = cp
        .answer(
            StatusCode::NOT_FOUND,
            Method::GET,
            "/api/v1/nothing-here",
            &Auth::None,
            None,
        )
        .await;
    assert_eq!(body["error"]["code"], "not_found");
}
