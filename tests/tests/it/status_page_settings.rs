//! A status page's settings through the API: each bad one refused with what is allowed and
//! nothing made, a taken slug a conflict, a logo accepted only as an image by its own bytes
//! (and served as it came), an unknown page 404, and the public pages bounded per client
//! (429 with Retry-After).

use reqwest::{Method, StatusCode};
use serde_json::json;
use tests::control::Auth;
use tests::monitoring::setup_with;

use crate::status_pages::Client;
use crate::ui::select;

#[tokio::test]
async fn status_pages_refuse_bad_settings_and_bound_each_client() {
    let (cp, admin, p) = setup_with(|c| c.status_rate_per_minute = 5).await;
    let path = format!("/api/v1/projects/{p}/status-pages");
    for (body, why) in [
        (json!({"name": "x", "slug": "Bad Slug"}), "slug"),
        (
            json!({"name": "x", "slug": "ok", "time_zone": "Mars/Olympus"}),
            "time zone",
        ),
        (
            json!({"name": "x", "slug": "ok", "brand_color": "red"}),
            "colour",
        ),
        (
            json!({"name": "x", "slug": "ok", "visibility": "password"}),
            "password",
        ),
        (
            json!({"name": "x", "slug": "ok", "domains": ["https://x.test/"]}),
            "host name",
        ),
        (
            json!({"name": "x", "slug": "ok", "footer_links": [{"label": "x", "url": "javascript:alert(1)"}]}),
            "URL",
        ),
    ] {
        let (status, answer, _) = cp.call(Method::POST, &path, &admin, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(why),
            "{answer}"
        );
    }
    let listed = cp.ok(Method::GET, &path, &admin, None).await;
    assert_eq!(listed["items"], json!([]), "nothing was made");
    cp.ok(
        Method::POST,
        &path,
        &admin,
        Some(json!({"name": "A", "slug": "taken"})),
    )
    .await;
    let (status, _, _) = cp
        .call(
            Method::POST,
            &path,
            &admin,
            Some(json!({"name": "B", "slug": "taken"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // A logo: an image's own bytes say what it is; SVG and other files are refused.
    let taken = cp.ok(Method::GET, &path, &admin, None).await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let Auth::Session { cookie, csrf } = &admin else {
        panic!("the admin signs in with a session")
    };
    let logo = |bytes: Vec<u8>| {
        let request = reqwest::Client::new()
            .put(format!("{}{path}/{taken}/logo", cp.base))
            .header("cookie", cookie.as_str())
            .header("x-csrf-token", csrf.clone().unwrap())
            .header("content-type", "image/png")
            .body(bytes);
        async move { request.send().await.unwrap().status() }
    };
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    assert_eq!(logo(svg).await, StatusCode::BAD_REQUEST);
    assert_eq!(logo(vec![0x89; 300 * 1024]).await, StatusCode::BAD_REQUEST);
    let png = [&b"\x89PNG\r\n\x1a\n"[..], &[0u8; 64][..]].concat();
    assert_eq!(logo(png.clone()).await, StatusCode::NO_CONTENT);
    let client = Client::new(&cp);
    let (_, _, html) = client.get("/status/taken", &[]).await;
    assert_eq!(
        select(&html, "header img[src='/status/taken/logo']").len(),
        1,
        "{html}"
    );
    let served = reqwest::get(format!("{}/status/taken/logo", cp.base))
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().to_vec(), png);

    let (status, _, _) = client.get("/status/nobody-here", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut last = StatusCode::OK;
    let mut retry_after = None;
    // Three requests were made above; the bound is five a minute.
    for _ in 0..3 {
        let (status, headers, _) = client.get("/status/taken", &[]).await;
        last = status;
        retry_after = headers.get("retry-after").cloned();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after.is_some());
}
