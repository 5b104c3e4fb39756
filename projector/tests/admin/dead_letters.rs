//! Poison becomes dead letters, once each, with why; a replay applies what can be applied
//! and leaves the rest, one attempt more; a discard needs a reason; every replay and discard
//! is in the audit log; what waited in the dead-letter queue moves to the store.

use base64::Engine;
use serde_json::{Value, json};
use stockflow_projector::dead_letters::ReasonKind;
use stockflow_testkit::BrokerNames;
use uuid::Uuid;

use crate::helpers::{TestProjector, declare_durable, publish};

/// A CloudEvent of `event_type` with `data`, at `position`.
fn cloud_event(id: Uuid, event_type: &str, data: Value, position: i64) -> Vec<u8> {
    json!({
        "specversion": "1.0", "id": id, "source": "/stockflow", "type": event_type,
        "subject": "product-POISON", "time": "2026-01-01T00:00:00Z",
        "datacontenttype": "application/json", "data": data, "position": position,
        "streamversion": 1,
    })
    .to_string()
    .into_bytes()
}

async fn dead_letter_queue_length(broker: &BrokerNames) -> u32 {
    stockflow_testkit::inspect_queue(&stockflow_broker::dead_letter_queue(&broker.queue))
        .await
        .expect("the dead-letter queue exists")
        .message_count()
}

#[tokio::test]
async fn each_kind_of_poison_is_kept_once_with_its_reason_and_nothing_else_changes() {
    let projector = TestProjector::start().await;
    // Far ahead of the store: were a position believed, the checkpoint would leap.
    let unknown_id = Uuid::now_v7();
    let unknown = cloud_event(
        unknown_id,
        "com.stockflow.order.teleported.v1",
        json!({"to": "the moon"}),
        1_000_000,
    );
    let bad = cloud_event(
        Uuid::now_v7(),
        "com.stockflow.product.registered.v1",
        json!({"sku": 42}),
        1_000_001,
    );
    let garbage: &[u8] = b"\x00\xffnot json";
    let poison: [(&str, &[u8], Option<String>); 3] = [
        ("garbage", garbage, None),
        (
            "order.teleported",
            unknown.as_slice(),
            Some(unknown_id.to_string()),
        ),
        ("product.registered", bad.as_slice(), None),
    ];
    for (routing_key, body, message_id) in &poison {
        projector
            .publish(routing_key, body, message_id.as_deref())
            .await;
    }

    let items = projector.dead_letters_once(3).await;
    let listed: Vec<(&str, &str, i64)> = items
        .iter()
        .map(|item| {
            (
                item["reason"].as_str().expect("a reason"),
                item["routing_key"].as_str().expect("a routing key"),
                item["attempts"].as_i64().expect("attempts"),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("undecodable", "garbage", 1),
            ("unknown_type", "order.teleported", 1),
            ("bad_payload", "product.registered", 1),
        ]
    );
    assert_eq!(items[0]["body_preview"], "\u{0}\u{FFFD}not json");
    assert_eq!(
        projector.checkpoint().await,
        0,
        "no poison moves the checkpoint"
    );
    assert!(projector.products().await.is_empty());
    assert_eq!(dead_letter_queue_length(&projector.broker).await, 0);

    // Read whole: bytes that are not UTF-8 in base64, the rest as text, with the AMQP
    // headers and properties and what the body says of its event.
    let first = projector
        .get(&format!("/v1/admin/dead-letters/{}", items[0]["id"]))
        .await;
    let first = first.assert_ok();
    assert_eq!(first["body_encoding"], "base64");
    assert_eq!(
        first["body"],
        base64::engine::general_purpose::STANDARD.encode(garbage)
    );
    assert_eq!(first["headers"], json!({"x-test": "poison"}));
    assert_eq!(first["properties"]["delivery_mode"], 2);
    assert_eq!(first["event_id"], Value::Null);
    let second = projector
        .get(&format!("/v1/admin/dead-letters/{}", items[1]["id"]))
        .await;
    let second = second.assert_ok();
    assert_eq!(second["body_encoding"], "utf8");
    let unknown_text = String::from_utf8(unknown.clone()).expect("UTF-8");
    assert_eq!(second["body"], unknown_text);
    assert_eq!(second["event_id"], unknown_id.to_string());
    assert_eq!(second["position"], 1_000_000);
    assert_eq!(second["properties"]["message_id"], unknown_id.to_string());

    // Delivered again, each is the same dead letter; a new message after them is a new one.
    for (routing_key, body, message_id) in &poison {
        projector
            .publish(routing_key, body, message_id.as_deref())
            .await;
    }
    projector.publish("sentinel", b"the last one", None).await;
    let items = projector.dead_letters_once(4).await;
    assert_eq!(items[3]["routing_key"], "sentinel");

    let metrics = stockflow_testkit::send(reqwest::Client::new().get(projector.url("/metrics")))
        .await
        .text;
    assert!(
        metrics
            .lines()
            .any(|line| line.starts_with("stockflow_dead_letters_stored ")),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_replay_applies_what_it_can_and_what_fails_again_stays_one_attempt_more() {
    let projector = TestProjector::start().await;
    let event = projector.append_unpublished("DL-1").await;
    let body = event.to_string().into_bytes();
    let mut ahead = event.clone();
    ahead["id"] = json!(Uuid::now_v7());
    ahead["position"] = json!(3);
    let ahead = projector
        .set_aside(
            "product.registered",
            ahead.to_string().as_bytes(),
            ReasonKind::Unapplied,
        )
        .await;
    let fixed = projector
        .set_aside("product.registered", &body, ReasonKind::UnknownType)
        .await;
    let garbage = projector
        .set_aside("garbage", b"still not json", ReasonKind::Undecodable)
        .await;
    let replay = |id: i64| format!("/v1/admin/dead-letters/{id}/replay");
    let detail = |id: i64| format!("/v1/admin/dead-letters/{id}");

    // Ahead of the checkpoint: never applied out of order.
    let refused = projector.post(&replay(ahead), None).await;
    assert_eq!(refused.assert_ok()["outcome"], "dead_lettered");
    let reason = refused.body["reason"].as_str().expect("a reason");
    assert!(reason.contains("ahead of the checkpoint"), "{reason}");
    let kept = projector.get(&detail(ahead)).await;
    assert_eq!(kept.assert_ok()["attempts"], 2);
    assert_eq!(kept.body["reason"], "unapplied");
    assert_eq!(kept.body["detail"], reason);

    // Still unreadable.
    let again = projector.post(&replay(garbage), None).await;
    assert_eq!(again.assert_ok()["outcome"], "dead_lettered");
    let kept = projector.get(&detail(garbage)).await;
    assert_eq!(kept.assert_ok()["attempts"], 2);
    assert_eq!(kept.body["reason"], "undecodable");

    // The next event, which the projector now reads: applied, and gone.
    assert_eq!(projector.checkpoint().await, 0);
    let applied = projector.post(&replay(fixed), None).await;
    assert_eq!(
        applied.assert_ok(),
        &json!({"outcome": "applied", "reason": null})
    );
    projector
        .get(&detail(fixed))
        .await
        .assert_problem(404, "dead_letter_not_found");
    assert_eq!(projector.checkpoint().await, 1);
    assert_eq!(projector.products().await, ["DL-1"]);

    // The same event again is a duplicate: gone, and nothing applied twice.
    let duplicate = projector
        .set_aside("product.registered", &body, ReasonKind::UnknownType)
        .await;
    let skipped = projector.post(&replay(duplicate), None).await;
    assert_eq!(skipped.assert_ok()["outcome"], "skipped_duplicate");
    projector
        .get(&detail(duplicate))
        .await
        .assert_problem(404, "dead_letter_not_found");
    assert_eq!(projector.checkpoint().await, 1);

    let left = projector.dead_letters_once(2).await;
    let ids: Vec<i64> = left.iter().map(|i| i["id"].as_i64().expect("id")).collect();
    assert_eq!(ids, [ahead, garbage]);
    let audit = projector.audit().await;
    let expected: Vec<_> = [ahead, garbage, fixed, duplicate]
        .iter()
        .map(|id| {
            (
                "test-client".to_owned(),
                "dead_letter.replay".to_owned(),
                format!("dead_letter:{id}"),
                None,
                "done".to_owned(),
            )
        })
        .collect();
    assert_eq!(audit, expected);
}

#[tokio::test]
async fn a_discard_needs_a_reason_and_is_in_the_audit_log() {
    let projector = TestProjector::start().await;
    let id = projector
        .set_aside("garbage", b"junk", ReasonKind::Undecodable)
        .await;
    let discard = format!("/v1/admin/dead-letters/{id}/discard");
    for body in [
        None,
        Some(json!({})),
        Some(json!({"reason": ""})),
        Some(json!({"reason": "x".repeat(501)})),
        Some(json!({"reason": "two\nlines"})),
    ] {
        let refused = projector.post(&discard, body.clone()).await;
        let problem = refused.assert_problem(400, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "reason", "{body:?}");
    }
    projector
        .post(&discard, Some(json!({"reason": "fine", "extra": 1})))
        .await
        .assert_problem(400, "malformed_body");
    let as_text = projector
        .admin
        .post(projector.url(&discard))
        .header("content-type", "text/plain")
        .body("reason");
    stockflow_testkit::send(as_text)
        .await
        .assert_problem(415, "unsupported_media_type");
    assert!(
        projector.audit().await.is_empty(),
        "refused before it was tried"
    );
    projector
        .get(&format!("/v1/admin/dead-letters/{id}"))
        .await
        .assert_ok();

    let reason = "published by hand while testing";
    let discarded = projector
        .post(&discard, Some(json!({"reason": reason})))
        .await;
    assert_eq!(discarded.assert_ok(), &json!({"id": id, "reason": reason}));
    projector
        .get(&format!("/v1/admin/dead-letters/{id}"))
        .await
        .assert_problem(404, "dead_letter_not_found");
    projector
        .post(&discard, Some(json!({"reason": reason})))
        .await
        .assert_problem(404, "dead_letter_not_found");
    let target = format!("dead_letter:{id}");
    let action = "dead_letter.discard".to_owned();
    let who = "test-client".to_owned();
    assert_eq!(
        projector.audit().await,
        [
            (
                who.clone(),
                action.clone(),
                target.clone(),
                Some(reason.to_owned()),
                "done".to_owned()
            ),
            (
                who,
                action,
                target,
                Some(reason.to_owned()),
                "refused: dead_letter_not_found".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn what_waits_in_the_dead_letter_queue_moves_to_the_store_at_start_up() {
    let projector = TestProjector::start_with(|broker: &BrokerNames| {
        let queue = stockflow_broker::dead_letter_queue(&broker.queue);
        async move {
            declare_durable(&queue).await;
            publish("", &queue, b"nacked by an older projector", Some("old-1")).await;
            publish("", &queue, b"nacked by an older projector", Some("old-1")).await;
        }
    })
    .await;
    let items = projector.dead_letters_once(1).await;
    assert_eq!(items[0]["reason"], "undecodable");
    assert_eq!(items[0]["body_preview"], "nacked by an older projector");
    assert_eq!(dead_letter_queue_length(&projector.broker).await, 0);
}
