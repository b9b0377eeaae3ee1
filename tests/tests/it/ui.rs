//! The operator UI's first pages through a real server: sign-up, sign-in and sign-out,
//! projects, CSRF on every write, escaping, security headers and the hashed stylesheet — as a
//! browser without JavaScript would use them (forms posted, redirects followed by hand).

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use scraper::{Html, Selector};
use tests::control::ControlPlane;

pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    pub(crate) fn new(cp: &ControlPlane) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base: cp.base.clone(),
            cookie: None,
        }
    }

    /// Signs in through the form, with the tests' password.
    pub(crate) async fn sign_in(&mut self, email: &str) {
        let (status, _, _) = self
            .post(
                "/login",
                &[("email", email), ("password", tests::control::PASSWORD)],
            )
            .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
    }

    fn remember(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let value = value.to_str().unwrap();
            if let Some(rest) = value.strip_prefix("vigil_session=") {
                let token = rest.split(';').next().unwrap();
                self.cookie = (!token.is_empty()).then(|| format!("vigil_session={token}"));
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, HeaderMap, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            request = request.header("cookie", c);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        (status, headers, response.text().await.unwrap())
    }

    pub(crate) async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = &self.cookie {
            request = request.header("cookie", c);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        self.remember(&headers);
        (status, headers, response.text().await.unwrap())
    }
}

fn location(headers: &HeaderMap) -> &str {
    headers.get(LOCATION).unwrap().to_str().unwrap()
}

pub(crate) fn select(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(css).unwrap();
    doc.select(&selector)
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

pub(crate) fn attribute(html: &str, css: &str, name: &str) -> String {
    let doc = Html::parse_document(html);
    let selector = Selector::parse(css).unwrap();
    let element = doc.select(&selector).next().expect(css);
    element.value().attr(name).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_sign_in_projects_csrf_and_escaping_without_javascript() {
    let cp = ControlPlane::start(|_| {}).await;
    let mut b = Browser::new(&cp);

    // A fresh instance sends people to sign-up.
    let (status, headers, _) = b.get("/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/signup");
    let (status, headers, html) = b.get("/signup").await;
    assert_eq!(status, StatusCode::OK);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    // Every field has its label; the stylesheet is served, hashed and immutable.
    for id in ["name", "email", "password"] {
        assert_eq!(select(&html, &format!("label[for={id}]")).len(), 1, "{id}");
    }
    let css = attribute(&html, "link[rel=stylesheet]", "href");
    assert!(
        css.starts_with("/assets/app.") && css.ends_with(".css"),
        "{css}"
    );
    let (status, headers, body) = b.get(&css).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert!(body.contains("prefers-color-scheme"));

    // A path nobody serves is a page for people and JSON under /api/.
    let (status, headers, html) = b.get("/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(select(&html, "h1"), ["There is no page here"]);
    let (status, _, json) = b.get("/api/v1/no-such-thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    // A weak password is refused on the page, with what was typed kept.
    let (status, _, html) = b
        .post(
            "/signup",
            &[
                ("name", "Ada"),
                ("email", "ada@vigil.test"),
                ("password", "aaaaaaaaaa"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(select(&html, "[role=alert]").len(), 1);
    assert_eq!(attribute(&html, "input#name", "value"), "Ada");
    assert!(b.cookie.is_none());
    let (status, headers, _) = b
        .post(
            "/signup",
            &[
                ("name", "Ada"),
                ("email", "ada@vigil.test"),
                ("password", tests::control::PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/projects");
    assert!(b.cookie.is_some(), "signed in by sign-up");

    // Projects: none yet; a write without the session's CSRF token changes nothing.
    let (status, _, html) = b.get("/projects").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        select(&html, "main p")
            .iter()
            .any(|p| p.contains("No project yet"))
    );
    let csrf = attribute(
        &html,
        "form[action='/projects'] input[name=csrf_token]",
        "value",
    );
    let (status, _, _) = b
        .post("/projects", &[("csrf_token", "forged"), ("name", "Forged")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let xss = "<script>alert(1)</script>";
    let (status, headers, _) = b
        .post("/projects", &[("csrf_token", &csrf), ("name", xss)])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "created");
    assert_eq!(location(&headers), "/projects");
    let (_, _, html) = b.get("/projects").await;
    assert_eq!(
        select(&html, "tbody td:first-child"),
        [xss],
        "one project, named as typed"
    );
    assert!(!html.contains(xss), "the name is escaped, never markup");
    assert_eq!(select(&html, "tbody td:nth-child(2)"), ["owner"]);
    // The API sees the same project, made by the same domain function.
    let (status, _, json) = b.get("/api/v1/projects").await;
    assert_eq!(status, StatusCode::OK);
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed["items"][0]["name"], xss);

    // Sign out (CSRF-checked), then the pages send to sign-in; a wrong password is shown.
    let (status, _, _) = b.post("/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = b.post("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/login");
    assert!(b.cookie.is_none(), "the session cookie is cleared");
    let (status, headers, _) = b.get("/projects").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/login");
    let (_, headers, _) = b.get("/").await;
    assert_eq!(
        location(&headers),
        "/login",
        "sign-up is closed once an account exists"
    );
    let (status, _, html) = b
        .post(
            "/login",
            &[
                ("email", "ada@vigil.test"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(select(&html, "[role=alert]").len(), 1);
    assert_eq!(attribute(&html, "input#email", "value"), "ada@vigil.test");
    let (status, headers, _) = b
        .post(
            "/login",
            &[
                ("email", "ada@vigil.test"),
                ("password", tests::control::PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/projects");
    let (status, _, html) = b.get("/projects").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(select(&html, ".who"), ["Ada"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn ingestion_keys_are_shown_once_revoked_after_confirming_and_members_only_read() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = tests::control::accounts(&cp, &["vera", "vic"]).await;
    let mut b = Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    let (_, _, html) = b.get("/projects").await;
    let csrf = attribute(
        &html,
        "form[action='/projects'] input[name=csrf_token]",
        "value",
    );
    b.post("/projects", &[("csrf_token", &csrf), ("name", "Shop")])
        .await;
    let (_, _, html) = b.get("/projects").await;
    let link = attribute(&html, "tbody a", "href");
    let project = link.trim_start_matches("/projects/");
    // The project's pages link to its keys in their section navigation.
    let (_, _, html) = b.get(&link).await;
    let keys = attribute(&html, "nav.sections a[href$='/keys']", "href");

    // A new key's secret is on the answer to the form, once; the list shows only its hint.
    let (status, _, html) = b.get(&keys).await;
    assert_eq!(status, StatusCode::OK);
    assert!(select(&html, "main p").iter().any(|p| p == "No key yet."));
    let (status, _, html) = b
        .post(&keys, &[("csrf_token", &csrf), ("name", "collector")])
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = attribute(&html, "input#secret", "value");
    assert!(secret.starts_with("vik_"), "{secret}");
    let (_, _, html) = b.get(&keys).await;
    assert!(!html.contains(&secret), "the secret is shown once");
    assert_eq!(select(&html, "tbody td:nth-child(4)"), ["active"]);
    let hint = select(&html, "tbody code").remove(0);
    assert!(
        secret.starts_with(&hint) && hint.len() < secret.len(),
        "{hint}"
    );

    // A member reads the list without any write control, and a forged write is refused; a
    // viewer may not see keys at all (the API's rule, the same function).
    cp.join(project, &admin, "vera@vigil.test", "member").await;
    cp.join(project, &admin, "vic@vigil.test", "viewer").await;
    let mut viewer = Browser::new(&cp);
    viewer.sign_in("vic@vigil.test").await;
    let (status, _, html) = viewer.get(&keys).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(select(&html, "[role=alert]").len(), 1);
    let mut v = Browser::new(&cp);
    v.sign_in("vera@vigil.test").await;
    let (status, _, html) = v.get(&keys).await;
    assert_eq!(status, StatusCode::OK);
    assert!(select(&html, "form[action$='/keys']").is_empty());
    assert!(select(&html, "a[href$='/revoke']").is_empty());
    let (_, _, projects) = v.get("/projects").await;
    let vcsrf = attribute(
        &projects,
        "form[action='/projects'] input[name=csrf_token]",
        "value",
    );
    let (status, _, _) = v
        .post(&keys, &[("csrf_token", &vcsrf), ("name", "sneaky")])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, html) = b.get(&keys).await;
    assert_eq!(select(&html, "tbody tr").len(), 1, "nothing was created");

    // Revoking asks first; the answer revokes it, with the CSRF token only.
    let revoke = attribute(&html, "a[href$='/revoke']", "href");
    let (status, _, page) = b.get(&revoke).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        select(&page, "main p")
            .iter()
            .any(|p| p.contains("collector"))
    );
    let (status, _, _) = b.post(&revoke, &[("csrf_token", "forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = b.post(&revoke, &[("csrf_token", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), keys);
    let (_, _, html) = b.get(&keys).await;
    assert!(select(&html, "tbody td:nth-child(4)")[0].starts_with("revoked"));
    // Another project's keys are not found, like missing ones.
    let (status, _, _) = v
        .get("/projects/00000000-0000-0000-0000-000000000000/keys")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_monitor_list_pages_filters_and_never_guesses_a_status() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = tests::control::accounts(&cp, &[]).await;
    let project = cp
        .ok(
            reqwest::Method::POST,
            "/api/v1/projects",
            &admin,
            Some(serde_json::json!({"name": "Fleet"})),
        )
        .await;
    let p = project["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/projects/{p}/monitors");
    for i in 0..55 {
        let name = format!("cron-{i:02}");
        cp.ok(
            reqwest::Method::POST,
            &path,
            &admin,
            Some(serde_json::json!({"name": name, "kind": "heartbeat"})),
        )
        .await;
    }
    cp.ok(
        reqwest::Method::POST,
        &path,
        &admin,
        Some(serde_json::json!({"name": "<b>50%_off</b>", "kind": "server"})),
    )
    .await;
    let mut b = Browser::new(&cp);
    b.sign_in("admin@vigil.test").await;
    let list = format!("/projects/{p}");

    // 56 monitors: 50 on the first page, the rest behind "Next", with the filters kept.
    let (status, _, html) = b.get(&list).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(select(&html, "tbody tr").len(), 50);
    // Status in words; no result yet is said, not guessed.
    assert!(
        select(&html, "tbody td:first-child")
            .iter()
            .all(|s| s == "Operational")
    );
    assert!(
        select(&html, "tbody td:nth-child(4)")
            .iter()
            .all(|s| s == "no data yet")
    );
    let next = attribute(&html, "nav.pager a", "href");
    assert!(next.contains("offset=50"), "{next}");
    let (_, _, html) = b.get(&next).await;
    assert_eq!(select(&html, "tbody tr").len(), 6);
    assert_eq!(select(&html, "nav.pager a"), ["Previous"]);

    // Filters: by kind, by name (LIKE's wildcards are literal, markup is text).
    let (_, _, html) = b.get(&format!("{list}?kind=server")).await;
    assert_eq!(select(&html, "tbody td:nth-child(2)"), ["<b>50%_off</b>"]);
    assert!(!html.contains("<b>50%"));
    let (_, _, html) = b.get(&format!("{list}?q=%25_")).await;
    assert_eq!(
        select(&html, "tbody tr").len(),
        1,
        "only the name holding \"%_\""
    );
    let (_, _, html) = b.get(&format!("{list}?q=cron-1")).await;
    assert_eq!(select(&html, "tbody tr").len(), 10);
    assert_eq!(attribute(&html, "input#q", "value"), "cron-1");
    let (_, _, html) = b.get(&format!("{list}?q=cron&kind=server")).await;
    assert!(
        select(&html, "main p")
            .iter()
            .any(|t| t.starts_with("No monitor matches."))
    );
    // A bad filter is a clear error, not an empty list.
    let (status, _, html) = b.get(&format!("{list}?kind=carrier-pigeon")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(select(&html, "[role=alert]")[0].contains("carrier-pigeon"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invited_account_accepts_or_declines_on_its_projects_page() {
    let cp = ControlPlane::start(|_| {}).await;
    let admin = tests::control::accounts(&cp, &["ines"]).await;
    for name in ["Shop", "Blog"] {
        let project = cp
            .ok(
                reqwest::Method::POST,
                "/api/v1/projects",
                &admin,
                Some(serde_json::json!({"name": name})),
            )
            .await;
        let p = project["id"].as_str().unwrap().to_owned();
        cp.ok(
            reqwest::Method::POST,
            &format!("/api/v1/projects/{p}/invitations"),
            &admin,
            Some(serde_json::json!({"email": "ines@vigil.test", "role": "member"})),
        )
        .await;
    }
    let mut b = Browser::new(&cp);
    b.sign_in("ines@vigil.test").await;
    let (_, _, html) = b.get("/projects").await;
    assert_eq!(
        select(&html, ".invitations li span"),
        ["Shop as member", "Blog as member"]
    );
    assert!(
        select(&html, "tbody tr").is_empty(),
        "not a member of anything yet"
    );
    let csrf = attribute(
        &html,
        "form[action='/projects'] input[name=csrf_token]",
        "value",
    );
    let accept = attribute(&html, "form[action$='/accept']", "action");
    let (status, _, _) = b.post(&accept, &[("csrf_token", "forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = b.post(&accept, &[("csrf_token", &csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location(&headers), "/projects");
    let (_, _, html) = b.get("/projects").await;
    assert_eq!(select(&html, "tbody td:first-child"), ["Shop"]);
    assert_eq!(select(&html, "tbody td:nth-child(2)"), ["member"]);
    let decline = attribute(&html, "form[action$='/decline']", "action");
    b.post(&decline, &[("csrf_token", &csrf)]).await;
    let (_, _, html) = b.get("/projects").await;
    assert!(select(&html, ".invitations li").is_empty());
    assert_eq!(
        select(&html, "tbody tr").len(),
        1,
        "declining joins nothing"
    );
    // An answered invitation cannot be answered again.
    let (status, _, _) = b.post(&accept, &[("csrf_token", &csrf)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_invite_from_the_members_page_and_it_reveals_no_account() {
    let cp = ControlPlane::start(|_| {}).await;
    tests::control::accounts(&cp, &["ines"]).await;
    let mut admin = Browser::new(&cp);
    admin.sign_in("admin@vigil.test").await;
    let (_, _, html) = admin.get("/projects").await;
    let csrf = attribute(
        &html,
        "form[action='/projects'] input[name=csrf_token]",
        "value",
    );
    admin
        .post("/projects", &[("csrf_token", &csrf), ("name", "Shop")])
        .await;
    let (_, _, html) = admin.get("/projects").await;
    let project = attribute(&html, "tbody a", "href");
    let members = format!("{project}/members");
    let (status, _, html) = admin.get(&members).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        select(&html, "tbody td:nth-child(3) option[selected]"),
        ["owner"]
    );

    // An address with an account and one without get the same answer.
    let mut answers = Vec::new();
    for email in ["ines@vigil.test", "nobody@vigil.test"] {
        let (status, _, html) = admin
            .post(
                &members,
                &[("csrf_token", &csrf), ("email", email), ("role", "member")],
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        answers.push(
            select(&html, "[role=status]")
                .join(" ")
                .replace(email, "ADDRESS"),
        );
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], "Invitation sent to ADDRESS.");
    let (status, _, _) = admin
        .post(
            &members,
            &[
                ("csrf_token", "forged"),
                ("email", "x@vigil.test"),
                ("role", "member"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, html) = admin
        .post(
            &members,
            &[
                ("csrf_token", &csrf),
                ("email", "x@vigil.test"),
                ("role", "emperor"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(select(&html, "[role=alert]")[0].contains("emperor"));

    // Ines accepts on her projects page; as a member she sees the members, not the form.
    let mut ines = Browser::new(&cp);
    ines.sign_in("ines@vigil.test").await;
    let (_, _, html) = ines.get("/projects").await;
    let ines_csrf = attribute(
        &html,
        "form[action='/projects'] input[name=csrf_token]",
        "value",
    );
    let accept = attribute(&html, "form[action$='/accept']", "action");
    ines.post(&accept, &[("csrf_token", &ines_csrf)]).await;
    let (status, _, html) = ines.get(&members).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(select(&html, "tbody tr").len(), 2);
    assert!(select(&html, "form[action$='/members']").is_empty());
    let (status, _, _) = ines
        .post(
            &members,
            &[
                ("csrf_token", &ines_csrf),
                ("email", "y@vigil.test"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
