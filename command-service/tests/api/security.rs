//! Authentication, authorization, limits and security headers (docs/api.md).

use std::time::Duration;

use serde_json::{Value, json};
use stockflow_command_service::{App, Config};
use stockflow_edge::{Scope, WebConfig, mint_token};
use stockflow_testkit::{database_args, forged_token, unix_now};

use crate::helpers::{TEST_SECRET, TestApp, authorized_client, test_web_config};

async fn receipt_with(
    app: &TestApp,
    authorization: Option<String>,
) -> crate::helpers::TestResponse {
    let mut request = reqwest::Client::new()
        .post(app.url("/v1/products/NOPE/receipts"))
        .json(&json!({"quantity": 1}));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    stockflow_testkit::send(request).await
}

#[tokio::test]
async fn commands_need_a_valid_token() {
    let app = TestApp::spawn().await;
    let valid_claims = json!({"sub": "x", "scope": "commands:write", "exp": unix_now() + 600});
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let cases = [
        ("no token", None),
        ("not a bearer token", Some("Basic dXNlcjpwYXNz".to_owned())),
        ("garbage", Some("Bearer not.a.jwt".to_owned())),
        (
            "wrong signature",
            Some(format!(
                "Bearer {}",
                forged_token(
                    hs256.clone(),
                    valid_claims.clone(),
                    Some("another-secret-of-32-characters!!!")
                )
            )),
        ),
        (
            "alg none",
            Some(format!(
                "Bearer {}",
                forged_token(
                    json!({"alg": "none", "typ": "JWT"}),
                    valid_claims.clone(),
                    None
                )
            )),
        ),
        (
            "alg HS512",
            Some(format!(
                "Bearer {}",
                forged_token(
                    json!({"alg": "HS512", "typ": "JWT"}),
                    valid_claims.clone(),
                    Some(TEST_SECRET)
                )
            )),
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                forged_token(
                    hs256.clone(),
                    json!({"sub": "x", "scope": "commands:write", "exp": unix_now() - 600}),
                    Some(TEST_SECRET)
                )
            )),
        ),
        (
            "no expiry",
            Some(format!(
                "Bearer {}",
                forged_token(
                    hs256.clone(),
                    json!({"sub": "x", "scope": "commands:write"}),
                    Some(TEST_SECRET)
                )
            )),
        ),
    ];
    for (case, authorization) in cases {
        let response = receipt_with(&app, authorization).await;
        response.assert_problem(401, "unauthorized");
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer"),
            "{case}"
        );
    }
    // The same forging code with the right secret is accepted: the refusals above are real.
    let good = forged_token(hs256, valid_claims, Some(TEST_SECRET));
    receipt_with(&app, Some(format!("Bearer {good}")))
        .await
        .assert_problem(404, "product_not_found");
}

#[tokio::test]
async fn a_token_without_the_scope_is_forbidden_and_admin_may_do_anything() {
    let app = TestApp::spawn().await;
    let read_only = mint_token(
        TEST_SECRET,
        "analyst",
        &[Scope::QueriesRead],
        Duration::from_secs(60),
    );
    let response = receipt_with(&app, Some(format!("Bearer {read_only}"))).await;
    let problem = response.assert_problem(403, "forbidden");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or("")
            .contains("commands:write")
    );

    let admin = authorized_client(&[Scope::Admin]);
    let registered = admin
        .post(app.url("/v1/products"))
        .json(&json!({"sku": "ADM", "name": "n", "unit_price_cents": 1, "currency": "EUR"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(registered.status(), 201);
}

#[tokio::test]
async fn health_and_metrics_need_no_token_and_every_answer_has_the_security_headers() {
    let app = TestApp::spawn().await;
    app.register("SEC-1", 1, "reject").await;
    let anonymous = reqwest::Client::new();
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = anonymous.get(app.url(path)).send().await.expect("answers");
        // Readiness may still be 503 while the relay connects; what matters is no 401.
        assert!(
            matches!(response.status().as_u16(), 200 | 503),
            "{path}: {}",
            response.status()
        );
    }
    let metrics = anonymous
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("stockflow_http_request_duration_seconds"),
        "no request latency in:\n{metrics}"
    );
    assert!(
        metrics.contains("stockflow_commands_total"),
        "no command counter in:\n{metrics}"
    );

    let success = app.receive("SEC-1", 1).await;
    let refusal = receipt_with(&app, None).await;
    let health = stockflow_testkit::send(anonymous.get(app.url("/healthz"))).await;
    for response in [success, refusal, health] {
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_eq!(
            response.header("content-security-policy"),
            Some("frame-ancestors 'none'")
        );
    }
}

#[tokio::test]
async fn each_token_is_rate_limited_on_its_own() {
    let app = TestApp::spawn_with_web(WebConfig {
        rate_limit_per_second: 5,
        ..test_web_config()
    })
    .await;
    let busy = authorized_client(&[Scope::CommandsWrite]);
    let mut limited = None;
    for _ in 0..40 {
        let response = busy
            .post(app.url("/v1/products/NOPE/receipts"))
            .json(&json!({"quantity": 1}))
            .send()
            .await
            .expect("answers");
        if response.status() == 429 {
            limited = Some(crate::helpers::read_response(response).await);
            break;
        }
    }
    let limited = limited.expect("a burst of 40 at 5/s is limited");
    limited.assert_problem(429, "rate_limited");
    let retry_after: u64 = limited
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After");
    assert!(retry_after >= 1);

    // Another token is not held back by the first one's burst.
    let other = mint_token(
        TEST_SECRET,
        "another-client",
        &[Scope::CommandsWrite],
        Duration::from_secs(60),
    );
    receipt_with(&app, Some(format!("Bearer {other}")))
        .await
        .assert_problem(404, "product_not_found");
}

#[tokio::test]
async fn the_service_refuses_to_start_without_a_secret_unless_in_development_mode() {
    let config = |web: WebConfig| Config {
        database: database_args(
            &format!("{}/stockflow_never_created", crate::helpers::server_url()),
            true,
        ),
        listen_addr: "127.0.0.1:0".into(),
        web,
        ..Config::defaults()
    };
    let no_secret = WebConfig {
        auth_jwt_secret: None,
        ..test_web_config()
    };
    let refused = App::build(config(no_secret)).await;
    assert!(matches!(
        refused,
        Err(stockflow_command_service::app::StartupError::Config(_))
    ));

    let dev = TestApp::spawn_with_web(WebConfig {
        auth_jwt_secret: None,
        auth_dev_mode: true,
        ..test_web_config()
    })
    .await;
    receipt_with(&dev, None)
        .await
        .assert_problem(404, "product_not_found");
}

#[tokio::test]
async fn every_answer_names_its_request_and_a_given_request_id_is_kept() {
    let app = TestApp::spawn().await;
    let fresh = app.get("/healthz").await;
    let id = fresh
        .header("x-request-id")
        .expect("an id is made for the request");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let mine = "0190f3a2-7c1e-7d4a-9b2f-3a1c5e7d9b0f";
    let kept = app
        .post_with(
            "/v1/products",
            json!({"sku": "RID", "name": "n", "unit_price_cents": 1, "currency": "EUR"}),
            &[("x-request-id", mine)],
        )
        .await;
    assert_eq!(kept.header("x-request-id"), Some(mine));
    // ... and it is the causation id of the events the request caused.
    let events = app.events().await;
    assert_eq!(events[0].metadata["causation_id"], mine);
}

/// Tokens an attacker can make without the secret, or with it but for something else: each
/// is refused, and the command it carried is not carried out.
#[tokio::test]
async fn forged_unsigned_lookalike_and_premature_tokens_are_refused() {
    let app = TestApp::spawn().await;
    app.register("FORGE-1", 0, "reject").await;
    let claims = |scope: Value| json!({"sub": "x", "scope": scope, "exp": unix_now() + 600});
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let valid = forged_token(
        hs256.clone(),
        claims(json!("commands:write")),
        Some(TEST_SECRET),
    );
    let valid_signature = valid.rsplit('.').next().expect("a signature").to_owned();

    let mut unauthorized: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let unsigned = forged_token(
            json!({"alg": alg, "typ": "JWT"}),
            claims(json!("admin")),
            None,
        );
        unauthorized.push((format!("alg {alg}"), unsigned.clone()));
        // ... and with a signature that is valid for another header.
        unauthorized.push((
            format!("alg {alg}, signed"),
            format!("{unsigned}{valid_signature}"),
        ));
    }
    for alg in ["HS384", "RS256", "ES256", "PS256", "EdDSA"] {
        unauthorized.push((
            format!("alg {alg}"),
            forged_token(
                json!({"alg": alg}),
                claims(json!("admin")),
                Some(TEST_SECRET),
            ),
        ));
    }
    unauthorized.push(("claims changed after signing".into(), {
        let mut parts: Vec<String> = valid.split('.').map(str::to_owned).collect();
        // The admin claims, encoded as a token carries them.
        let admin = forged_token(hs256.clone(), claims(json!("admin")), None);
        parts[1] = admin.split('.').nth(1).expect("claims").to_owned();
        parts.join(".")
    }));
    unauthorized.push((
        "empty signature".into(),
        forged_token(hs256.clone(), claims(json!("admin")), None),
    ));
    unauthorized.push((
        "secret as a prefix".into(),
        forged_token(
            hs256.clone(),
            claims(json!("admin")),
            Some(&TEST_SECRET[..32]),
        ),
    ));
    unauthorized.push((
        "scope as a list".into(),
        forged_token(
            hs256.clone(),
            claims(json!(["commands:write"])),
            Some(TEST_SECRET),
        ),
    ));
    unauthorized.push((
        "expiry as text".into(),
        forged_token(
            hs256.clone(),
            json!({"sub": "x", "scope": "commands:write", "exp": (unix_now() + 600).to_string()}),
            Some(TEST_SECRET),
        ),
    ));
    unauthorized.push((
        "not valid before tomorrow".into(),
        forged_token(
            hs256.clone(),
            json!({"sub": "x", "scope": "commands:write", "exp": unix_now() + 172_800, "nbf": unix_now() + 86_400}),
            Some(TEST_SECRET),
        ),
    ));
    unauthorized.push(("two tokens".into(), format!("{valid} {valid}")));
    for (case, token) in &unauthorized {
        let response = receipt_to_forge_1(&app, token).await;
        assert_eq!(response.status, 401, "{case}: {}", response.text);
        response.assert_problem(401, "unauthorized");
    }

    // Validly signed, but the scope only looks like the one needed.
    for scope in [
        "commands:writer",
        "xcommands:write",
        "COMMANDS:WRITE",
        "commands:write,queries:read",
        "commands:*",
        "queries:read",
        "administrator",
        "",
    ] {
        let token = forged_token(hs256.clone(), claims(json!(scope)), Some(TEST_SECRET));
        let response = receipt_to_forge_1(&app, &token).await;
        assert_eq!(response.status, 403, "scope {scope:?}: {}", response.text);
        response.assert_problem(403, "forbidden");
    }

    // A token anywhere but the Authorization header is no token.
    let response = stockflow_testkit::send(
        reqwest::Client::new()
            .post(app.url(&format!(
                "/v1/products/FORGE-1/receipts?access_token={valid}"
            )))
            .header("cookie", format!("token={valid}"))
            .json(&json!({"quantity": 1})),
    )
    .await;
    response.assert_problem(401, "unauthorized");

    // The valid token is accepted: the refusals above are the tokens', not the request's;
    // and its receipt is the only one taken.
    receipt_to_forge_1(&app, &valid).await.assert_status(200);
    let (products, _) = app.replay().await;
    assert_eq!(
        products["FORGE-1"].on_hand, 1,
        "a refused token's receipt was taken"
    );
}

async fn receipt_to_forge_1(app: &TestApp, token: &str) -> crate::helpers::TestResponse {
    let request = reqwest::Client::new()
        .post(app.url("/v1/products/FORGE-1/receipts"))
        .header("authorization", format!("Bearer {token}"))
        .json(&json!({"quantity": 1}));
    stockflow_testkit::send(request).await
}
