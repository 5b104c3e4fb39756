//! Rebuilds from the admin API (docs/operations.md, "Rebuilds"): started, followed to their
//! end, one at a time, whichever projector or command runs the other; a rebuild whose
//! projector died stops blocking the next.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::TestProjector;

/// Follows the rebuild `id` until it is no longer running; returns its last state, having
/// checked that its progress never went backwards.
pub async fn finished(projector: &TestProjector, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut done = 0;
    loop {
        let rebuild = projector.get(&format!("/v1/admin/rebuilds/{id}")).await;
        let body = rebuild.assert_ok().clone();
        let now = body["events_done"].as_i64().expect("events_done");
        assert!(now >= done, "progress went back from {done}: {body}");
        done = now;
        if body["status"] != "running" {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_rebuild_from_the_api_ends_equal_to_the_live_read_models_one_at_a_time() {
    let projector = TestProjector::start().await;
    let mut last = 0;
    for n in 0..30 {
        let sku = format!("R-{n}");
        let data = json!({"sku": sku, "name": "Rebuilt", "unit_price_cents": 100,
                          "currency": "EUR", "initial_stock": n, "backorder_policy": "reject"});
        last = projector
            .append_and_publish(&format!("product-{sku}"), 1, "product.registered", &data)
            .await;
    }
    projector.checkpoint_reaches(last).await;
    let live: Vec<(String, i64)> =
        sqlx::query_as("SELECT sku, on_hand FROM read.products ORDER BY sku")
            .fetch_all(&projector.pool)
            .await
            .expect("the products");

    // Another projector's rebuild, alive: this one waits its turn.
    let other = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO ops.rebuilds (id, status, requested_by, events_total)
         VALUES ($1, 'running', 'someone', 0)",
    )
    .bind(other)
    .execute(&projector.pool)
    .await
    .expect("inserted");
    projector
        .post("/v1/admin/rebuilds", Some(json!({"reason": "too soon"})))
        .await
        .assert_problem(409, "rebuild_running");
    // Its projector died: no heartbeat for a minute. It counts as failed, and this one runs.
    sqlx::query("UPDATE ops.rebuilds SET heartbeat_at = now() - interval '1 minute'")
        .execute(&projector.pool)
        .await
        .expect("updated");
    let started = projector
        .post(
            "/v1/admin/rebuilds",
            Some(json!({"reason": "after the fix"})),
        )
        .await;
    started.assert_status(202);
    let id = started.body["rebuild_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let listing = projector.get("/v1/admin/projections").await;
    assert_eq!(listing.assert_ok()["rebuild"]["id"], id.as_str());

    let done = finished(&projector, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["events_done"], last);
    assert_eq!(done["events_total"], last);
    assert_eq!(done["eta_seconds"], Value::Null);
    assert_eq!(done["requested_by"], "test-client");
    let abandoned = projector.get(&format!("/v1/admin/rebuilds/{other}")).await;
    assert_eq!(abandoned.assert_ok()["status"], "failed");
    assert!(abandoned.body["error"].is_string(), "{}", abandoned.text);

    let rebuilt: Vec<(String, i64)> =
        sqlx::query_as("SELECT sku, on_hand FROM read.products ORDER BY sku")
            .fetch_all(&projector.pool)
            .await
            .expect("the products");
    assert_eq!(rebuilt, live);
    assert_eq!(projector.checkpoint().await, last);

    projector
        .get("/v1/admin/rebuilds/not-a-uuid")
        .await
        .assert_invalid("id");
    projector
        .get(&format!("/v1/admin/rebuilds/{}", uuid::Uuid::now_v7()))
        .await
        .assert_problem(404, "rebuild_not_found");
    let audit: Vec<(String, Option<String>, String)> = projector
        .audit()
        .await
        .into_iter()
        .map(|(_, action, _, reason, outcome)| (action, reason, outcome))
        .collect();
    assert_eq!(
        audit,
        [
            (
                "rebuild.start".to_owned(),
                Some("too soon".to_owned()),
                "refused: rebuild_running".to_owned()
            ),
            (
                "rebuild.start".to_owned(),
                Some("after the fix".to_owned()),
                "accepted".to_owned()
            ),
        ]
    );
}
