//! Signing in: a token the services refuse keeps the operator out with a reason; the admin
//! token opens the overview, and the page's scripts never see it again.

use stockflow_edge::Scope;

use crate::fixture::{Console, OPERATOR, token};

/// What the page's own scripts can read: cookies, both storages, the address.
async fn readable_by_scripts(console: &Console) -> String {
    let storage = console
        .browser
        .eval(
            "return [document.cookie, JSON.stringify({...localStorage}), \
                     JSON.stringify({...sessionStorage}), location.href, history.state];",
            vec![],
        )
        .await;
    storage.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_token_the_services_accept_signs_in_and_it_stays_out_of_the_page() {
    let console = Console::start().await;
    let browser = &console.browser;

    console.open_sign_in().await;
    assert_eq!(
        browser.attr("input#token", "type").await.as_deref(),
        Some("password"),
        "the token is typed into a password field"
    );
    assert!(
        !browser.is_visible("#signed-in-as").await,
        "nobody is signed in yet"
    );
    browser.screenshot("sign-in").await;

    // Not a token at all, then a well-signed one without the admin scope: both refused, with
    // the reason shown and the form still there.
    let refused = [
        "not-a-token".to_owned(),
        token("shop-1", &[Scope::QueriesRead, Scope::CommandsWrite]),
    ];
    for bad in &refused {
        console.open_sign_in().await;
        console.submit_token(bad).await;
        let error = browser
            .wait_text("#sign-in-error", "says why the token was refused", |t| {
                !t.trim().is_empty()
            })
            .await;
        assert!(browser.is_visible("form#sign-in").await, "after {error:?}");
        assert!(
            !browser.is_visible("#signed-in-as").await,
            "after {error:?}"
        );
        let url = browser.current_url().await;
        assert!(
            !url.contains(bad.as_str()),
            "the token is in the address {url}"
        );
    }

    console.open_sign_in().await;
    console.submit_token(&console.token).await;
    console.wait_page("overview").await;
    browser
        .wait_text("#signed-in-as", "names the token's subject", |t| {
            t.contains(OPERATOR)
        })
        .await;
    assert!(!browser.is_visible("form#sign-in").await);

    // The session is an HttpOnly cookie the scripts cannot read; the token is nowhere they
    // could find it, nor in the address.
    let readable = readable_by_scripts(&console).await;
    let signature = console.token.rsplit('.').next().expect("a JWT");
    assert!(
        !readable.contains(signature),
        "the token is readable by scripts: {readable}"
    );
    assert!(
        !readable.contains("stockflow_console"),
        "the session cookie is readable by scripts: {readable}"
    );
    let cookies = browser.cookies().await;
    let session = cookies
        .iter()
        .find(|cookie| cookie.0 == "stockflow_console")
        .unwrap_or_else(|| panic!("no session cookie among {cookies:?}"));
    assert!(session.2, "the session cookie is HttpOnly: {session:?}");
    assert_eq!(session.3.as_deref(), Some("Strict"), "{session:?}");
    assert!(!session.1.contains(signature), "the cookie holds the token");

    // The cookie keeps the operator signed in across a reload.
    browser.goto(&console.url("/#/overview")).await;
    console.wait_page("overview").await;

    // Signing out: the sign-in form again, and the server has forgotten the session.
    browser.click("button#sign-out").await;
    browser.wait_visible("form#sign-in").await;
    browser.goto(&console.url("/")).await;
    browser.wait_visible("form#sign-in").await;
    let old = reqwest::Client::new()
        .get(console.url("/session"))
        .header("cookie", format!("stockflow_console={}", session.1))
        .send()
        .await
        .expect("the console answers");
    assert_eq!(
        old.status(),
        401,
        "the old session still works after signing out"
    );
}
