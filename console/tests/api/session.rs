//! Signing in, who is signed in, signing out.

use stockflow_testkit::send;

use crate::support::{Console, closed_url, session_cookie};

#[tokio::test]
async fn a_token_the_projector_takes_opens_a_session_in_an_http_only_strict_cookie() {
    let console = Console::start().await;
    let token = console.fake.admin_token("ops-1");
    let answer = console.sign_in_with(&token).await;
    assert_eq!(answer.assert_status(200)["subject"], "ops-1");
    let set_cookie = answer.header("set-cookie").expect("a cookie is set");
    let attributes: Vec<&str> = set_cookie.split(';').map(str::trim).collect();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(attributes.contains(&attribute), "{set_cookie}");
    }
    assert!(!attributes.contains(&"Secure"), "{set_cookie}");
    // The browser gets a random id, never the token.
    assert!(!set_cookie.contains(&token));
    assert!(!answer.text.contains(&token));
    let id = attributes[0].strip_prefix("stockflow_console=").unwrap();
    assert_eq!(id.len(), 43, "{id}");

    let cookie = session_cookie(&answer).unwrap();
    let who = send(
        console
            .client
            .get(console.url("/session"))
            .header("cookie", &cookie),
    )
    .await;
    assert_eq!(who.assert_status(200)["subject"], "ops-1");
    assert!(!who.text.contains(&token));
    assert_eq!(who.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn behind_tls_the_cookie_is_secure() {
    let console = Console::start_with(|c| {
        c.secure_cookie = true;
        c.session_ttl_seconds = 600;
    })
    .await;
    let answer = console
        .sign_in_with(&console.fake.admin_token("ops-1"))
        .await;
    let set_cookie = answer.header("set-cookie").unwrap();
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(set_cookie.contains("Max-Age=600"), "{set_cookie}");
}

#[tokio::test]
async fn a_token_the_projector_refuses_is_401_token_rejected() {
    let console = Console::start().await;
    for token in ["not-a-real-token".to_owned(), console.fake.reader_token()] {
        let answer = console.sign_in_with(&token).await;
        answer.assert_problem(401, "token_rejected");
        assert!(answer.header("set-cookie").is_none());
    }
}

#[tokio::test]
async fn a_malformed_sign_in_is_a_problem_not_an_error() {
    let console = Console::start().await;
    let post = |body: &'static str| {
        send(
            console
                .client
                .post(console.url("/session"))
                .header("content-type", "application/json")
                .body(body),
        )
    };
    post("not json").await.assert_problem(400, "malformed_body");
    post("").await.assert_problem(400, "malformed_body");
    post(r#"{"token": 7}"#)
        .await
        .assert_problem(422, "invalid_body");
    post(r#"{"tok": "x"}"#)
        .await
        .assert_problem(422, "invalid_body");
    post(r#"{"token": "   "}"#)
        .await
        .assert_problem(422, "invalid_body");
    post(r#"{"token": "a\nb"}"#)
        .await
        .assert_problem(422, "invalid_body");
    // No content type at all is still read as JSON.
    let bare = send(
        console
            .client
            .post(console.url("/session"))
            .body(r#"{"token":"nope"}"#),
    )
    .await;
    bare.assert_problem(401, "token_rejected");
    let huge = format!(r#"{{"token": "{}"}}"#, "a".repeat(20_000));
    send(console.client.post(console.url("/session")).body(huge))
        .await
        .assert_problem(413, "body_too_large");
}

#[tokio::test]
async fn a_sign_in_another_site_starts_is_refused() {
    let console = Console::start().await;
    let token = console.fake.admin_token("ops-1");
    let answer = send(
        console
            .client
            .post(console.url("/session"))
            .header("sec-fetch-site", "cross-site")
            .json(&serde_json::json!({ "token": token })),
    )
    .await;
    answer.assert_problem(403, "cross_site_request");
}

#[tokio::test]
async fn without_the_projector_no_one_signs_in() {
    let down = closed_url().await;
    let console = Console::start_with(|c| c.projector_url = down).await;
    let answer = console
        .sign_in_with(&console.fake.admin_token("ops-1"))
        .await;
    answer.assert_problem(502, "upstream_unavailable");
}

#[tokio::test]
async fn signing_out_forgets_the_session_and_clears_the_cookie() {
    let console = Console::start().await;
    let cookie = console.sign_in().await;
    let out = send(
        console
            .client
            .delete(console.url("/session"))
            .header("cookie", &cookie),
    )
    .await;
    out.assert_status(204);
    let cleared = out.header("set-cookie").unwrap();
    assert!(cleared.starts_with("stockflow_console=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    send(
        console
            .client
            .get(console.url("/session"))
            .header("cookie", &cookie),
    )
    .await
    .assert_problem(401, "not_signed_in");
    send(console.api(reqwest::Method::GET, "/api/projector/v1/x", &cookie))
        .await
        .assert_problem(401, "not_signed_in");
    // Signing out without a session is no error.
    send(console.client.delete(console.url("/session")))
        .await
        .assert_status(204);
}

#[tokio::test]
async fn a_session_ends_with_its_ttl() {
    let console = Console::start_with(|c| c.session_ttl_seconds = 1).await;
    let cookie = console.sign_in().await;
    let who = || {
        send(
            console
                .client
                .get(console.url("/session"))
                .header("cookie", &cookie),
        )
    };
    who().await.assert_status(200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    who().await.assert_problem(401, "not_signed_in");
}
