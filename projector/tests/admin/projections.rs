//! The projection controls (docs/operations.md, "Projections"): pause and resume lose
//! nothing; a projection stopped by an event goes on only by an operator's retry or skip, and
//! a skip leaves out exactly that event, live and in every rebuild after; each action is
//! audited.

use std::time::Duration;

use serde_json::{Value, json};
use stockflow_edge::Scope;
use stockflow_testkit::{authorized_client, send};

use crate::helpers::TestProjector;

fn registered(sku: &str) -> Value {
    json!({"sku": sku, "name": format!("Product {sku}"), "unit_price_cents": 250,
           "currency": "EUR", "initial_stock": 5, "backorder_policy": "reject"})
}

fn adjusted(sku: &str, delta: i64, on_hand: i64) -> Value {
    json!({"sku": sku, "delta": delta, "reason": "count", "on_hand": on_hand, "reserved": 0,
           "available": on_hand})
}

/// The products' rows as a query sees them, in order.
async fn product_rows(projector: &TestProjector) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT sku, on_hand FROM read.products ORDER BY sku")
        .fetch_all(&projector.pool)
        .await
        .expect("the products")
}

#[tokio::test]
async fn a_pause_applies_nothing_while_messages_wait_and_a_resume_catches_up() {
    let projector = TestProjector::start().await;
    let first = projector
        .append_and_publish("product-P-0", 1, "product.registered", &registered("P-0"))
        .await;
    projector.checkpoint_reaches(first).await;

    let paused = projector
        .post(
            "/v1/admin/projections/pause",
            Some(json!({"reason": "maintenance"})),
        )
        .await;
    assert_eq!(paused.assert_ok()["status"], "paused");
    let mut last = first;
    for n in 1..=20 {
        let sku = format!("P-{n}");
        last = projector
            .append_and_publish(
                &format!("product-{sku}"),
                1,
                "product.registered",
                &registered(&sku),
            )
            .await;
    }
    let listing = projector.projections_once("paused").await;
    assert_eq!(listing["head"], last);
    assert_eq!(listing["items"][0]["lag_events"], 20, "{listing}");
    // Long enough for the projector to have applied them, were it running.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        projector.checkpoint().await,
        first,
        "nothing is applied while paused"
    );
    let waiting = stockflow_testkit::broker::inspect_queue(&projector.broker.queue)
        .await
        .expect("the projector's queue");
    assert_eq!(
        waiting.message_count(),
        20,
        "the messages wait in the queue"
    );
    // Pausing again changes nothing; a paused projection has nothing to retry or skip.
    projector
        .post("/v1/admin/projections/pause", None)
        .await
        .assert_ok();
    projector
        .post("/v1/admin/projections/retry", None)
        .await
        .assert_problem(409, "projection_not_stopped");
    projector
        .post(
            "/v1/admin/projections/skip",
            Some(json!({"position": first + 1, "reason": "no"})),
        )
        .await
        .assert_problem(409, "projection_not_stopped");

    let resumed = projector.post("/v1/admin/projections/resume", None).await;
    assert_eq!(resumed.assert_ok()["status"], "running");
    projector.checkpoint_reaches(last).await;
    assert_eq!(
        projector.products().await.len(),
        21,
        "every product is projected once"
    );
    let listing = projector.projections_once("running").await;
    assert_eq!(listing["items"][0]["lag_events"], 0, "{listing}");

    let actions: Vec<(String, String)> = projector
        .audit()
        .await
        .into_iter()
        .map(|(_, action, _, reason, outcome)| {
            (format!("{action} {}", reason.unwrap_or_default()), outcome)
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("projection.pause maintenance".to_owned(), "done".to_owned()),
            ("projection.pause ".to_owned(), "done".to_owned()),
            (
                "projection.retry ".to_owned(),
                "refused: projection_not_stopped".to_owned()
            ),
            (
                "projection.skip no".to_owned(),
                "refused: projection_not_stopped".to_owned()
            ),
            ("projection.resume ".to_owned(), "done".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_stopped_projection_goes_on_only_past_the_event_an_operator_skips() {
    let projector = TestProjector::start().await;
    let a = projector
        .append_and_publish("product-A", 1, "product.registered", &registered("A"))
        .await;
    // Stock adjusted on a product no one registered: no read model can apply it.
    let ghost = projector
        .append_and_publish(
            "product-GHOST",
            2,
            "product.stock_adjusted",
            &adjusted("GHOST", 3, 3),
        )
        .await;
    let b = projector
        .append_and_publish("product-B", 1, "product.registered", &registered("B"))
        .await;
    let a_adjusted = projector
        .append_and_publish(
            "product-A",
            2,
            "product.stock_adjusted",
            &adjusted("A", 10, 15),
        )
        .await;
    assert_eq!((a, ghost, b, a_adjusted), (1, 2, 3, 4));

    let stopped = projector.projections_once("stopped").await;
    let item = &stopped["items"][0];
    assert_eq!(item["failing_position"], ghost, "{stopped}");
    assert!(
        item["error"].as_str().unwrap_or_default().contains("GHOST"),
        "the error says why: {stopped}"
    );
    assert_eq!(item["position"], a, "nothing after the event is applied");
    let ready = send(reqwest::Client::new().get(projector.url("/readyz"))).await;
    assert_eq!(ready.status, 503, "a stopped projector is not ready");
    projector
        .post("/v1/admin/projections/pause", None)
        .await
        .assert_problem(409, "projection_stopped");

    // A retry tries again; the event still cannot be applied, so it stops there again.
    projector
        .post(
            "/v1/admin/projections/retry",
            Some(json!({"reason": "after the fix"})),
        )
        .await
        .assert_ok();
    let again = projector.projections_once("stopped").await;
    assert_eq!(again["items"][0]["failing_position"], ghost);
    assert_eq!(projector.checkpoint().await, a);

    // Only the event it stopped at can be skipped, with a reason.
    projector
        .post(
            "/v1/admin/projections/skip",
            Some(json!({"position": b, "reason": "wrong one"})),
        )
        .await
        .assert_problem(409, "not_the_failing_event");
    projector
        .post(
            "/v1/admin/projections/skip",
            Some(json!({"position": ghost})),
        )
        .await
        .assert_problem(400, "validation_failed");
    let skipped = projector
        .post(
            "/v1/admin/projections/skip",
            Some(json!({"position": ghost, "reason": "stock of an unregistered product"})),
        )
        .await;
    let skipped = skipped.assert_ok().clone();
    assert_eq!(skipped["position"], ghost);
    assert_eq!(skipped["status"], "running");

    projector.checkpoint_reaches(a_adjusted).await;
    // The fold of the store minus the skipped event: A registered with 5 and adjusted to
    // 15, B registered with 5; nothing of GHOST.
    let expected = vec![("A".to_owned(), 15), ("B".to_owned(), 5)];
    assert_eq!(product_rows(&projector).await, expected);
    let running = projector.projections_once("running").await;
    assert_eq!(running["items"][0]["failing_position"], Value::Null);
    let letters = projector.dead_letters_once(1).await;
    assert_eq!(letters[0]["reason"], "skipped");
    assert_eq!(letters[0]["id"], skipped["dead_letter_id"]);
    let letter = projector
        .get(&format!("/v1/admin/dead-letters/{}", letters[0]["id"]))
        .await;
    assert_eq!(letter.assert_ok()["position"], ghost);
    assert!(
        letter.body["body"]
            .as_str()
            .unwrap_or_default()
            .contains("GHOST"),
        "the dead letter holds the event as published: {}",
        letter.text
    );

    // A rebuild leaves it out too: the fresh read models equal the live ones.
    let started = projector.post("/v1/admin/rebuilds", None).await;
    started.assert_status(202);
    let id = started.body["rebuild_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let done = crate::rebuilds::finished(&projector, &id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(product_rows(&projector).await, expected);
    assert_eq!(projector.checkpoint().await, a_adjusted);

    let actions: Vec<(String, String, String)> = projector
        .audit()
        .await
        .into_iter()
        .map(|(_, action, target, _, outcome)| (action, target, outcome))
        .collect();
    let expect = |action: &str, target: &str, outcome: &str| {
        (action.to_owned(), target.to_owned(), outcome.to_owned())
    };
    assert_eq!(
        actions,
        [
            expect(
                "projection.pause",
                "projections:live",
                "refused: projection_stopped"
            ),
            expect("projection.retry", "projections:live", "done"),
            expect(
                "projection.skip",
                "event:3",
                "refused: not_the_failing_event"
            ),
            expect("projection.skip", "event:2", "done"),
            expect("rebuild.start", &format!("rebuild:{id}"), "accepted"),
        ]
    );
}

#[tokio::test]
async fn the_controls_ask_for_the_admin_scope_and_check_their_bodies() {
    let projector = TestProjector::start().await;
    let routes = [
        ("GET", "/v1/admin/projections"),
        ("POST", "/v1/admin/projections/pause"),
        ("POST", "/v1/admin/projections/resume"),
        ("POST", "/v1/admin/projections/retry"),
        ("POST", "/v1/admin/projections/skip"),
        ("POST", "/v1/admin/rebuilds"),
        (
            "GET",
            "/v1/admin/rebuilds/0191e4a0-0000-7000-8000-000000000000",
        ),
    ];
    let anonymous = reqwest::Client::new();
    for (method, path) in routes {
        let url = projector.url(path);
        for scope in [Scope::QueriesRead, Scope::CommandsWrite, Scope::EventsRead] {
            let client = authorized_client(&[scope]);
            let request = if method == "GET" {
                client.get(&url)
            } else {
                client.post(&url)
            };
            send(request).await.assert_problem(403, "forbidden");
        }
        let request = if method == "GET" {
            anonymous.get(&url)
        } else {
            anonymous.post(&url)
        };
        send(request).await.assert_problem(401, "unauthorized");
    }
    assert!(
        projector.audit().await.is_empty(),
        "refused callers did nothing"
    );

    let pause = projector.url("/v1/admin/projections/pause");
    send(
        projector
            .admin
            .post(&pause)
            .body("{")
            .header("content-type", "application/json"),
    )
    .await
    .assert_problem(400, "malformed_body");
    send(
        projector
            .admin
            .post(&pause)
            .body("reason")
            .header("content-type", "text/plain"),
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    projector
        .post(
            "/v1/admin/projections/pause",
            Some(json!({"reason": "two\nlines"})),
        )
        .await
        .assert_problem(400, "validation_failed");
    projector
        .post(
            "/v1/admin/projections/pause",
            Some(json!({"why": "unknown field"})),
        )
        .await
        .assert_problem(400, "malformed_body");
    // A body that is JSON but not an object is refused, whatever it holds.
    for (path, bad) in [
        ("/v1/admin/projections/resume", json!([])),
        ("/v1/admin/projections/pause", json!(["a reason"])),
        ("/v1/admin/projections/skip", json!([12, "a reason"])),
        ("/v1/admin/rebuilds", json!([])),
        ("/v1/admin/rebuilds", json!("a reason")),
    ] {
        projector
            .post(path, Some(bad))
            .await
            .assert_problem(400, "malformed_body");
    }
    for bad in [
        json!({"position": 0, "reason": "r"}),
        json!({"position": "1", "reason": "r"}),
    ] {
        let refused = projector
            .post("/v1/admin/projections/skip", Some(bad))
            .await;
        assert_eq!(refused.status, 400, "{}", refused.text);
    }
    assert_eq!(
        projector.projections_once("running").await["items"][0]["status"],
        "running",
        "no refused request paused it"
    );
}
