//! Account security through the API: login limits under concurrent guessing, API keys that
//! cannot outlive their maker, membership as the only way into a project, every error in the
//! API's JSON shape, weak passwords refused, sign-up signing the admin in, invitations that
//! reveal no account.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tests::control::{Auth, ControlPlane, PASSWORD, accounts};

/// Logs in to `cp` from `source` (a loopback address); the status.
async fn login_from(cp: &ControlPlane, source: [u8; 4], email: &str, password: &str) -> StatusCode {
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(source))
        .build()
        .unwrap();
    http.post(format!("{}/api/v1/auth/login", cp.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_guesses_are_counted_and_lock_out_only_the_guessers_address() {
    let cp = ControlPlane::start(|c| c.login_max_failures = 3).await;
    accounts(&cp, &["bob", "carol"]).await;
    // 60 wrong passwords at once: no more than the limit reach the password check.
    let cp = std::sync::Arc::new(cp);
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..60 {
        let cp = cp.clone();
        guesses.spawn(async move {
            login_from(&cp, [127, 0, 0, 9], "bob@vigil.test", "wrong password!").await
        });
    }
    let answers = guesses.join_all().await;
    let checked = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (3, 57), "{answers:?}");
    // The guesser's address is locked out of bob, even with the right password ...
    let status = login_from(&cp, [127, 0, 0, 9], "bob@vigil.test", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // ... but bob logs in from his own address, and carol from the guesser's.
    let status = login_from(&cp, [127, 0, 0, 10], "bob@vigil.test", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let status = login_from(&cp, [127, 0, 0, 9], "carol@vigil.test", PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    // One address guessing across many accounts meets the address's larger bound.
    let mut last = StatusCode::OK;
    for i in 0..=30 {
        last = login_from(
            &cp,
            [127, 0, 0, 11],
            &format!("user{i}@vigil.test"),
            "wrong password!",
        )
        .await;
        if last == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_cannot_outlive_their_maker_and_admins_see_only_their_projects() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &["bob"]).await;
    let bob = cp.login("bob@vigil.test", PASSWORD).await;
    let project = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &bob,
            Some(json!({"name": "Bob's"})),
        )
        .await;
    let p = project["id"].as_str().unwrap();
    // The instance admin is no member: Bob's project is 404 to them, like a missing one.
    for path in [
        format!("/api/v1/projects/{p}"),
        format!("/api/v1/projects/{p}/members"),
    ] {
        let body = cp
            .answer(StatusCode::NOT_FOUND, Method::GET, &path, &admin, None)
            .await;
        assert_eq!(body["error"]["code"], "not_found");
    }

    let keys = format!("/api/v1/projects/{p}/api-keys");
    let expiry = chrono::Utc::now() + chrono::Duration::hours(1);
    let created = cp
        .ok(
            Method::POST,
            &keys,
            &bob,
            Some(json!({"name": "short", "role": "admin", "expires_at": expiry})),
        )
        .await;
    let short = Auth::Bearer(created["secret"].as_str().unwrap().to_owned());
    // Without an expiry, or expiring later, is refused; no later than its own is fine.
    for later in [json!(null), json!(expiry + chrono::Duration::hours(1))] {
        let body = cp
            .answer(
                StatusCode::BAD_REQUEST,
                Method::POST,
                &keys,
                &short,
                Some(json!({"name": "long", "role": "member", "expires_at": later})),
            )
            .await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("expiry"),
            "{body}"
        );
    }
    let sooner = expiry - chrono::Duration::minutes(1);
    cp.ok(
        Method::POST,
        &keys,
        &short,
        Some(json!({"name": "sooner", "role": "member", "expires_at": sooner})),
    )
    .await;
    let listed = cp.ok(Method::GET, &keys, &bob, None).await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(!names.contains(&"long"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_is_json_with_its_status() {
    let cp = ControlPlane::start(|c| c.max_body_bytes = 4096).await;
    let admin = accounts(&cp, &[]).await;
    let Auth::Session { cookie, csrf } = &admin else {
        unreachable!()
    };
    let http = reqwest::Client::new();
    let send = |method: Method, path: &str| {
        http.request(method, format!("{}{path}", cp.base))
            .header("cookie", cookie.as_str())
            .header("x-csrf-token", csrf.as_deref().unwrap())
    };
    let cases = [
        // A path parameter that is not a UUID, a query parameter that is not a number.
        (
            send(Method::GET, "/api/v1/projects/not-a-uuid"),
            400,
            "bad_request",
        ),
        (
            send(Method::GET, "/api/v1/projects?limit=many"),
            400,
            "bad_request",
        ),
        // A method the path does not take.
        (
            send(Method::PUT, "/api/v1/projects"),
            405,
            "method_not_allowed",
        ),
        // A body over the limit, and one that is not JSON.
        (
            send(Method::POST, "/api/v1/projects")
                .header("content-type", "application/json")
                .body(format!("{{\"name\": \"{}\"}}", "x".repeat(5000))),
            413,
            "payload_too_large",
        ),
        (
            send(Method::POST, "/api/v1/projects")
                .header("content-type", "text/plain")
                .body("{\"name\": \"p\"}"),
            415,
            "unsupported_media_type",
        ),
        (send(Method::GET, "/api/v1/nothing-here"), 404, "not_found"),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(content_type, "application/json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    // Nothing was made by the refused writes.
    let projects = cp.ok(Method::GET, "/api/v1/projects", &admin, None).await;
    assert_eq!(projects["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn signup_signs_in_and_weak_passwords_are_refused() {
    let cp = ControlPlane::start(|_| {}).await;
    let signup = |password: &str| json!({"email": "ann@vigil.test", "name": "Ann Example", "password": password});
    for weak in [
        "aaaaaaaaaa",
        "password123",
        "qwertyuiop",
        "1234567890",
        "ann@vigil.test",
        "correct\u{0}horse battery",
    ] {
        let body = cp
            .answer(
                StatusCode::BAD_REQUEST,
                Method::POST,
                "/api/v1/auth/signup",
                &Auth::None,
                Some(signup(weak)),
            )
            .await;
        assert_eq!(body["error"]["code"], "bad_request", "{weak}: {body}");
    }
    // The first account is signed in by its sign-up: its cookies work at once.
    let (status, user, headers) = cp
        .call(
            Method::POST,
            "/api/v1/auth/signup",
            &Auth::None,
            Some(signup(PASSWORD)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let cookies: Vec<String> = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("vigil_session="))
        .unwrap();
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("vigil_csrf="))
        .unwrap();
    let auth = Auth::Session {
        cookie: session.clone(),
        csrf: Some(csrf.trim_start_matches("vigil_csrf=").to_owned()),
    };
    let me = cp.ok(Method::GET, "/api/v1/me", &auth, None).await;
    assert_eq!(me["id"], user["id"]);
    cp.ok(
        Method::POST,
        "/api/v1/projects",
        &auth,
        Some(json!({"name": "first"})),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invitations_reveal_no_account_and_only_their_addressee_accepts() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = accounts(&cp, &["bob"]).await;
    let project = cp
        .ok(
            Method::POST,
            "/api/v1/projects",
            &admin,
            Some(json!({"name": "Shop"})),
        )
        .await;
    let p = project["id"].as_str().unwrap();
    let invitations = format!("/api/v1/projects/{p}/invitations");
    // An address with an account and one without are answered alike.
    let mut answers = Vec::new();
    for email in ["bob@vigil.test", "Dora@Vigil.test"] {
        let (status, body, _) = cp
            .call(
                Method::POST,
                &invitations,
                &admin,
                Some(json!({"email": email, "role": "viewer"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["email"], email.to_lowercase());
        let mut keys: Vec<String> = body.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        answers.push((keys, body));
    }
    assert_eq!(answers[0].0, answers[1].0);
    assert!(
        !answers[0]
            .0
            .iter()
            .any(|k| k.contains("user") || k == "name")
    );
    let listed = cp.ok(Method::GET, &invitations, &admin, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    cp.answer(
        StatusCode::BAD_REQUEST,
        Method::POST,
        &invitations,
        &admin,
        Some(json!({"email": "not an address", "role": "viewer"})),
    )
    .await;

    // Bob sees his invitation, not Dora's, and joins by accepting it; only once.
    let bob = cp.login("bob@vigil.test", PASSWORD).await;
    let mine = cp
        .ok(Method::GET, "/api/v1/me/invitations", &bob, None)
        .await;
    let mine = mine["items"].as_array().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["project_name"], "Shop");
    assert_eq!(mine[0]["role"], "viewer");
    let dora_invitation = answers[1].1["id"].as_str().unwrap();
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::POST,
        &format!("/api/v1/me/invitations/{dora_invitation}/accept"),
        &bob,
        None,
    )
    .await;
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::GET,
        &format!("/api/v1/projects/{p}"),
        &bob,
        None,
    )
    .await;
    let accept = format!(
        "/api/v1/me/invitations/{}/accept",
        mine[0]["id"].as_str().unwrap()
    );
    let joined = cp.ok(Method::POST, &accept, &bob, None).await;
    assert_eq!(joined["id"], p);
    assert_eq!(joined["role"], "viewer");
    cp.answer(StatusCode::NOT_FOUND, Method::POST, &accept, &bob, None)
        .await;
    // A viewer cannot invite; inviting a member again is a conflict.
    cp.answer(
        StatusCode::FORBIDDEN,
        Method::POST,
        &invitations,
        &bob,
        Some(json!({"email": "eve@vigil.test", "role": "viewer"})),
    )
    .await;
    cp.answer(
        StatusCode::CONFLICT,
        Method::POST,
        &invitations,
        &admin,
        Some(json!({"email": "bob@vigil.test", "role": "admin"})),
    )
    .await;

    // Dora's account, made later, finds the invitation waiting; she declines it.
    cp.ok(
        Method::POST,
        "/api/v1/users",
        &admin,
        Some(json!({"email": "dora@vigil.test", "name": "Dora", "password": PASSWORD})),
    )
    .await;
    let dora = cp.login("dora@vigil.test", PASSWORD).await;
    let waiting = cp
        .ok(Method::GET, "/api/v1/me/invitations", &dora, None)
        .await;
    assert_eq!(waiting["items"][0]["id"], dora_invitation);
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("/api/v1/me/invitations/{dora_invitation}"),
        &dora,
        None,
    )
    .await;
    let waiting = cp
        .ok(Method::GET, "/api/v1/me/invitations", &dora, None)
        .await;
    assert_eq!(waiting["items"].as_array().unwrap().len(), 0);
    cp.answer(
        StatusCode::NOT_FOUND,
        Method::GET,
        &format!("/api/v1/projects/{p}"),
        &dora,
        None,
    )
    .await;

    // A withdrawn invitation cannot be accepted.
    let eve = cp
        .ok(
            Method::POST,
            &invitations,
            &admin,
            Some(json!({"email": "eve@vigil.test", "role": "member"})),
        )
        .await;
    let eve_id = eve["id"].as_str().unwrap();
    cp.answer(
        StatusCode::NO_CONTENT,
        Method::DELETE,
        &format!("{invitations}/{eve_id}"),
        &admin,
        None,
    )
    .await;
    let listed = cp.ok(Method::GET, &invitations, &admin, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
}
