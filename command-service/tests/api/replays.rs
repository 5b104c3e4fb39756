//! Replays into a queue (docs/api.md, "Replaying events into a queue"): the stored events
//! reach the one queue named, in position order and in the live messages' form, while
//! commands go on; a filter, refusals, the limit of replays at once, and replays that a
//! restart or an operator cut short, resumed from where they got.

pub(crate) mod harness;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use stockflow_edge::Scope;
use stockflow_testkit::openapi::{assert_documented, assert_problem_documented, served_document};
use stockflow_testkit::{authorized_client, send};

use harness::{Queue, Stack, positions, replay_id};

/// The rate replays run at where a test needs one to be running still when it looks.
const SLOW: u32 = 10;

#[tokio::test]
async fn a_replay_of_every_event_reaches_a_fresh_queue_in_order_in_the_live_form() {
    let stack = Stack::new().await;
    let mut live = Queue::live(&stack.broker.exchange).await;
    let service = stack.serve(5_000).await;
    stack.seed(&service, "RP-1", 20).await;
    let mut target = Queue::fresh(false).await;

    // Commands go on while the replay runs.
    let flowing = async {
        for n in 0..20 {
            stack.place(&service, "RP-1", &format!("late-{n}")).await;
        }
    };
    let asked = stack.replay(&service, json!({"queue": target.name}));
    let ((), started) = tokio::join!(flowing, asked);
    let id = replay_id(&started);
    let to = started.body["to"].as_i64().expect("a to");
    assert_eq!(started.body["after"], 0);
    assert!(
        to >= 41,
        "the range ends at the head when asked: {}",
        started.text
    );
    assert_eq!(
        started.header("location"),
        Some(format!("/v1/admin/replays/{id}").as_str())
    );

    let ended = stack.ended(&service, &id).await;
    assert_eq!(ended["status"], "done", "{ended}");
    assert_eq!(ended["published"], to);
    assert_eq!(ended["last_position"], to);
    assert_eq!(ended["error"], Value::Null);
    let replayed = target.take_until(|taken| taken.len() as i64 == to).await;
    assert_eq!(positions(&replayed), (1..=to).collect::<Vec<_>>());

    // The same bytes and properties as the message the relay published for each position.
    let head = 1 + 2 * 40;
    let mut first_seen = BTreeMap::new();
    for message in live
        .take_until(|taken| taken.iter().any(|m| m.position == head))
        .await
    {
        first_seen.entry(message.position).or_insert(message);
    }
    for message in &replayed {
        let original = &first_seen[&message.position];
        assert_eq!(message.body, original.body, "position {}", message.position);
        assert_eq!(
            message.properties, original.properties,
            "position {}",
            message.position
        );
    }
    let sample = &replayed[0].properties;
    assert_eq!(
        sample.content_type().as_ref().map(|s| s.as_str()),
        Some("application/cloudevents+json")
    );
    assert!(sample.message_id().is_some() && sample.correlation_id().is_some());
    assert!(sample.kind().is_some() && sample.headers().is_some());
    target.delete().await;
}

#[tokio::test]
async fn a_replay_publishes_only_the_routing_keys_its_types_name() {
    let stack = Stack::new().await;
    let service = stack.serve(5_000).await;
    stack.seed(&service, "RP-T", 5).await;
    let receipt = stack
        .command(
            &service,
            "/v1/products/RP-T/receipts",
            json!({"quantity": 3}),
        )
        .await;
    receipt.assert_status(200);
    // An exclusive queue, as a subscriber's often is: it belongs to another connection.
    let mut target = Queue::fresh(true).await;
    let types = json!(["order.*", "product.stock_received", "order.placed"]);
    let started = stack
        .replay(&service, json!({"queue": target.name, "types": types}))
        .await;
    let id = replay_id(&started);

    let ended = stack.ended(&service, &id).await;
    assert_eq!(ended["status"], "done", "{ended}");
    assert_eq!(
        ended["types"],
        json!(["order.*", "product.stock_received", "order.placed"])
    );
    let stored = stockflow_testkit::truth::all_events(&mut stack.database.connect().await).await;
    let expected: Vec<i64> = stored
        .iter()
        .filter(|e| e.event_type.starts_with("order.") || e.event_type == "product.stock_received")
        .map(|e| e.position)
        .collect();
    assert_eq!(expected.len(), 6, "five orders placed and a receipt");
    assert_eq!(ended["published"], expected.len());
    assert_eq!(ended["last_position"], started.body["to"]);
    let replayed = target.take_until(|t| t.len() == expected.len()).await;
    assert_eq!(positions(&replayed), expected);
    for message in &replayed {
        let event: Value = serde_json::from_slice(&message.body).expect("JSON");
        let kind = event["type"].as_str().expect("a type");
        assert!(
            kind.starts_with("com.stockflow.order.")
                || kind == "com.stockflow.product.stock_received.v1",
            "{kind}"
        );
    }
}

#[tokio::test]
async fn replays_refuse_what_they_cannot_do() {
    let stack = Stack::new().await;
    let service = stack.serve(5_000).await;
    stack.seed(&service, "RP-R", 2).await;
    let (_, document) = served_document(&service.url("")).await;
    let missing = stack
        .replay(&service, json!({"queue": "stockflow.test.no-such-queue"}))
        .await;
    assert_problem_documented(&document, missing.assert_problem(404, "queue_not_found"));

    let target = Queue::fresh(false).await;
    let queue = target.name.as_str();
    for (body, field) in [
        (json!({}), "queue"),
        (json!({"queue": ""}), "queue"),
        (json!({"queue": "a\u{1}b"}), "queue"),
        (json!({"queue": queue, "after": -1}), "after"),
        (json!({"queue": queue, "to": -3}), "to"),
        (json!({"queue": queue, "after": 3, "to": 2}), "to"),
        (json!({"queue": queue, "after": 6}), "after"),
        (json!({"queue": queue, "types": []}), "types"),
        (
            json!({"queue": queue, "types": ["order.placed", "order.nope"]}),
            "types",
        ),
        (json!({"queue": queue, "types": ["invoice.*"]}), "types"),
    ] {
        let refused = stack.replay(&service, body.clone()).await;
        let problem = refused.assert_problem(400, "validation_failed");
        assert_eq!(
            problem["errors"][0]["field"], field,
            "{body}: {}",
            refused.text
        );
        assert_problem_documented(&document, problem);
    }
    for body in [
        json!({"queue": 5}),
        json!({"queue": queue, "extra": true}),
        json!({"queue": queue, "types": "order.placed"}),
        json!([queue]),
    ] {
        let refused = stack.replay(&service, body).await;
        refused.assert_problem(400, "malformed_body");
    }
    let url = service.url("/v1/admin/replays");
    let text = send(
        stack
            .admin
            .post(&url)
            .body("queue")
            .header("content-type", "text/plain"),
    );
    text.await.assert_problem(415, "unsupported_media_type");

    // The admin scope, and no other, opens these routes.
    let body = json!({"queue": queue});
    let anonymous = send(reqwest::Client::new().post(&url).json(&body)).await;
    anonymous.assert_problem(401, "unauthorized");
    for scope in [Scope::CommandsWrite, Scope::QueriesRead] {
        let client = authorized_client(&[scope]);
        send(client.post(&url).json(&body))
            .await
            .assert_problem(403, "forbidden");
        let status =
            client.get(service.url("/v1/admin/replays/0191e5a0-0000-7000-8000-000000000000"));
        send(status).await.assert_problem(403, "forbidden");
    }
    for id in ["0191e5a0-0000-7000-8000-000000000000", "not-a-uuid"] {
        let unknown = stack.status(&service, id).await;
        unknown.assert_problem(404, "replay_not_found");
    }
    send(stack.admin.get(&url))
        .await
        .assert_problem(405, "method_not_allowed");
    target.delete().await;
}

#[tokio::test]
async fn a_replay_reports_its_progress_and_a_third_at_once_waits() {
    let stack = Stack::new().await;
    let service = stack.serve(SLOW).await;
    stack.seed(&service, "RP-L", 20).await;
    let (_, document) = served_document(&service.url("")).await;
    let target = Queue::fresh(false).await;
    let body = json!({"queue": target.name, "to": 30});
    let first = stack.replay(&service, body.clone()).await;
    assert_documented(&document, "ReplayStarted", first.assert_status(202));
    let second = stack.replay(&service, body.clone()).await;
    second.assert_status(202);
    let third = stack.replay(&service, body).await;
    assert_problem_documented(&document, third.assert_problem(409, "replay_limit"));

    let id = replay_id(&first);
    let running = stack
        .status_until(&service, &id, |s| s["published"].as_i64() > Some(0))
        .await;
    assert_eq!(running["status"], "running", "{running}");
    assert_eq!(running["published"], running["last_position"]);
    assert!(running["published"].as_i64() < Some(30), "{running}");
    assert_eq!(
        (running["after"].clone(), running["to"].clone()),
        (json!(0), json!(30))
    );
    assert_eq!(running["queue"], target.name.as_str());
    assert_documented(&document, "Replay", &running);
    target.delete().await;
}

#[tokio::test]
async fn a_replay_whose_queue_is_deleted_fails_with_the_reason() {
    let stack = Stack::new().await;
    let service = stack.serve(SLOW).await;
    stack.seed(&service, "RP-D", 20).await;
    let target = Queue::fresh(false).await;
    let started = stack.replay(&service, json!({"queue": target.name})).await;
    let id = replay_id(&started);
    stack
        .status_until(&service, &id, |s| s["published"].as_i64() > Some(0))
        .await;
    target.delete().await;
    let ended = stack.ended(&service, &id).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    assert!(
        ended["error"]
            .as_str()
            .is_some_and(|e| e.contains("queue is gone")),
        "{ended}"
    );
    assert!(ended["last_position"].as_i64() < started.body["to"].as_i64());
}

#[tokio::test]
async fn a_replay_cut_short_by_a_restart_is_failed_and_a_new_one_from_its_last_position_completes_it()
 {
    let stack = Stack::new().await;
    let mut service = stack.serve(SLOW).await;
    stack.seed(&service, "RP-S", 40).await;
    let mut target = Queue::fresh(false).await;
    let started = stack.replay(&service, json!({"queue": target.name})).await;
    let id = replay_id(&started);
    let to = started.body["to"].as_i64().expect("a to");
    assert_eq!(to, 81);
    stack
        .status_until(&service, &id, |s| s["published"].as_i64() >= Some(4))
        .await;
    service.stop().await;

    let restarted = stack.serve(5_000).await;
    let cut = stack.status(&restarted, &id).await.assert_ok().clone();
    assert_eq!(cut["status"], "failed", "{cut}");
    assert_eq!(cut["error"], "interrupted by a restart");
    let last = cut["last_position"].as_i64().expect("a last_position");
    assert!((4..to).contains(&last), "{cut}");
    assert_eq!(
        cut["published"], last,
        "nothing filtered: one message per position"
    );

    let resumed = stack
        .replay(
            &restarted,
            json!({"queue": target.name, "after": last, "to": to}),
        )
        .await;
    let resumed_id = replay_id(&resumed);
    assert_eq!(
        (resumed.body["after"].as_i64(), resumed.body["to"].as_i64()),
        (Some(last), Some(to))
    );
    let ended = stack.ended(&restarted, &resumed_id).await;
    assert_eq!(ended["status"], "done", "{ended}");
    assert_eq!(ended["published"], to - last);

    // The first replay's messages (what it confirmed, and perhaps a chunk it published as it
    // stopped), then the second's: each in order, every position up to `to` at least once.
    let received = positions(
        &target
            .take_until(|t| t.last().is_some_and(|m| m.position == to))
            .await,
    );
    let split = received
        .windows(2)
        .position(|pair| pair[1] <= pair[0])
        .map_or(last as usize, |i| i + 1);
    let (first, second) = received.split_at(split);
    assert!(first.len() as i64 >= last, "{received:?}");
    assert_eq!(first, (1..=first.len() as i64).collect::<Vec<_>>());
    assert_eq!(second, (last + 1..=to).collect::<Vec<_>>());
    target.delete().await;
}

#[tokio::test]
async fn a_cancelled_replay_stops_as_failed_with_what_it_published_and_a_new_one_resumes_it() {
    let stack = Stack::new().await;
    let service = stack.serve(SLOW).await;
    stack.seed(&service, "RP-C", 20).await;
    let (_, document) = served_document(&service.url("")).await;
    let mut target = Queue::fresh(false).await;
    let started = stack.replay(&service, json!({"queue": target.name})).await;
    let id = replay_id(&started);
    let to = started.body["to"].as_i64().expect("a to");
    stack
        .status_until(&service, &id, |s| s["published"].as_i64() >= Some(2))
        .await;

    let cancelled = stack.cancel(&service, &id).await;
    let cancelled = cancelled.assert_ok();
    assert_eq!(cancelled["status"], "failed", "{cancelled}");
    assert_eq!(cancelled["error"], "cancelled by an operator");
    assert_documented(&document, "Replay", cancelled);
    let again = stack.cancel(&service, &id).await;
    assert_problem_documented(&document, again.assert_problem(409, "replay_ended"));
    for unknown in ["0191e5a0-0000-7000-8000-000000000000", "not-a-uuid"] {
        let answer = stack.cancel(&service, unknown).await;
        assert_problem_documented(&document, answer.assert_problem(404, "replay_not_found"));
    }

    // It stops publishing within a second, and says how far it got.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let stopped = stack.status(&service, &id).await.assert_ok().clone();
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let later = stack.status(&service, &id).await.assert_ok().clone();
    assert_eq!(stopped, later, "a cancelled replay publishes no more");
    let last = later["last_position"].as_i64().expect("a last_position");
    assert!((2..to).contains(&last), "{later}");
    let received = target.take_until(|t| t.len() as i64 >= last).await;
    assert_eq!(positions(&received), (1..=last).collect::<Vec<_>>());

    let resumed = stack
        .replay(
            &service,
            json!({"queue": target.name, "after": last, "to": to}),
        )
        .await;
    let ended = stack.ended(&service, &replay_id(&resumed)).await;
    assert_eq!(ended["status"], "done", "{ended}");
    let rest = target
        .take_until(|t| t.last().is_some_and(|m| m.position == to))
        .await;
    assert_eq!(positions(&rest), (last + 1..=to).collect::<Vec<_>>());
    target.delete().await;
}
