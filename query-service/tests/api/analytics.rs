//! GET /v1/analytics/sales: per day or per sku, day ranges, currency, and CSV.

use serde_json::json;

use crate::helpers::TestApp;

async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    app.seed_daily_sales(&[
        ("2026-11-01", "EUR", 2, 5, 5_000),
        ("2026-11-01", "USD", 1, 1, 700),
        ("2026-11-02", "EUR", 1, 3, 3_000),
        ("2026-11-04", "EUR", 4, 4, 4_000),
    ])
    .await;
    app.seed_daily_sku_sales(&[
        ("2026-11-01", "A", "EUR", 2, 3, 3_000),
        ("2026-11-01", "B", "EUR", 1, 2, 2_000),
        ("2026-11-01", "A", "USD", 1, 1, 700),
        ("2026-11-02", "A", "EUR", 1, 3, 3_000),
        ("2026-11-04", "B", "EUR", 4, 4, 4_000),
    ])
    .await;
    app
}

#[tokio::test]
async fn sales_by_day_are_every_day_and_currency_in_order_by_default() {
    let app = seeded().await;
    for path in ["/v1/analytics/sales", "/v1/analytics/sales?group_by=day"] {
        let body = app.get(path).await.assert_ok().clone();
        assert_eq!(
            body,
            json!({"rows": [
                {"day": "2026-11-01", "currency": "EUR", "orders": 2, "units": 5, "revenue_cents": 5000},
                {"day": "2026-11-01", "currency": "USD", "orders": 1, "units": 1, "revenue_cents": 700},
                {"day": "2026-11-02", "currency": "EUR", "orders": 1, "units": 3, "revenue_cents": 3000},
                {"day": "2026-11-04", "currency": "EUR", "orders": 4, "units": 4, "revenue_cents": 4000},
            ]}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn from_and_to_are_inclusive_days_and_currency_narrows() {
    let app = seeded().await;
    let days = |body: &serde_json::Value| -> Vec<String> {
        body["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["day"].as_str().unwrap_or(""),
                    r["currency"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let body = app
        .get("/v1/analytics/sales?from=2026-11-01&to=2026-11-02")
        .await
        .assert_ok()
        .clone();
    assert_eq!(
        days(&body),
        ["2026-11-01 EUR", "2026-11-01 USD", "2026-11-02 EUR"]
    );
    let body = app
        .get("/v1/analytics/sales?from=2026-11-02")
        .await
        .assert_ok()
        .clone();
    assert_eq!(days(&body), ["2026-11-02 EUR", "2026-11-04 EUR"]);
    let body = app
        .get("/v1/analytics/sales?to=2026-11-01&currency=USD")
        .await
        .assert_ok()
        .clone();
    assert_eq!(days(&body), ["2026-11-01 USD"]);
    let body = app
        .get("/v1/analytics/sales?from=2026-11-03&to=2026-11-03")
        .await
        .assert_ok()
        .clone();
    assert_eq!(body, json!({"rows": []}));
}

#[tokio::test]
async fn sales_by_sku_sum_the_days_asked_for() {
    let app = seeded().await;
    let body = app
        .get("/v1/analytics/sales?group_by=sku")
        .await
        .assert_ok()
        .clone();
    assert_eq!(
        body,
        json!({"rows": [
            {"sku": "A", "currency": "EUR", "orders": 3, "units": 6, "revenue_cents": 6000},
            {"sku": "A", "currency": "USD", "orders": 1, "units": 1, "revenue_cents": 700},
            {"sku": "B", "currency": "EUR", "orders": 5, "units": 6, "revenue_cents": 6000},
        ]})
    );
    let body = app
        .get("/v1/analytics/sales?group_by=sku&from=2026-11-02&currency=EUR")
        .await
        .assert_ok()
        .clone();
    assert_eq!(
        body,
        json!({"rows": [
            {"sku": "A", "currency": "EUR", "orders": 1, "units": 3, "revenue_cents": 3000},
            {"sku": "B", "currency": "EUR", "orders": 4, "units": 4, "revenue_cents": 4000},
        ]})
    );
}

#[tokio::test]
async fn accept_text_csv_gives_the_same_rows_as_csv_with_a_header() {
    let app = seeded().await;
    let response = app
        .get_with(
            "/v1/analytics/sales?to=2026-11-02",
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(response.status, 200);
    assert!(
        response.content_type().starts_with("text/csv"),
        "{}",
        response.content_type()
    );
    assert!(response.header("x-projection-position").is_some());
    assert_eq!(
        response.text,
        "day,currency,orders,units,revenue_cents\n\
         2026-11-01,EUR,2,5,5000\n\
         2026-11-01,USD,1,1,700\n\
         2026-11-02,EUR,1,3,3000\n"
    );

    let response = app
        .get_with(
            "/v1/analytics/sales?group_by=sku&currency=USD",
            &[("accept", "text/csv;q=0.9, application/json;q=0.5")],
        )
        .await;
    assert!(response.content_type().starts_with("text/csv"));
    assert_eq!(
        response.text,
        "sku,currency,orders,units,revenue_cents\nA,USD,1,1,700\n"
    );

    // No rows: the header alone.
    let response = app
        .get_with(
            "/v1/analytics/sales?currency=JPY",
            &[("accept", "text/csv")],
        )
        .await;
    assert_eq!(response.text, "day,currency,orders,units,revenue_cents\n");

    // Refusals stay problems, whatever was accepted.
    app.get_with(
        "/v1/analytics/sales?group_by=week",
        &[("accept", "text/csv")],
    )
    .await
    .assert_invalid("group_by");

    // JSON unless CSV is preferred.
    let response = app
        .get_with(
            "/v1/analytics/sales",
            &[("accept", "application/json, text/csv;q=0.5")],
        )
        .await;
    assert!(response.assert_ok()["rows"].is_array());
}
