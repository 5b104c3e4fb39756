//! The event feed (docs/api.md, "Event feed") against the whole pipeline: what it serves is
//! what the relay published, byte for byte, and a stream reader cut off while commands flow
//! resumes with `Last-Event-ID` and ends with every position once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use stockflow_e2e::Stack;
use stockflow_edge::Scope;
use stockflow_testkit::{SseReader, Subscriber};

use crate::workload::{SEED, run_workload};

fn events_client() -> reqwest::Client {
    stockflow_testkit::authorized_client(&[Scope::EventsRead])
}

/// Every event of the feed from the start, as (position, bytes), a page of 1,000 at a time.
async fn feed_from_zero(stack: &Stack) -> Vec<(i64, Vec<u8>)> {
    #[derive(Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        events: Vec<&'a RawValue>,
        next_after: i64,
        head: i64,
    }
    let client = events_client();
    let mut served = Vec::new();
    let mut after = 0;
    loop {
        let url = stack.query_url(&format!("/v1/events?after={after}&limit=1000"));
        let response = stockflow_testkit::send(client.get(url)).await;
        response.assert_ok();
        let page: Page = serde_json::from_str(&response.text).expect("a page");
        for event in page.events {
            let value: serde_json::Value = serde_json::from_str(event.get()).expect("JSON");
            let position = value["position"].as_i64().expect("a position");
            served.push((position, event.get().as_bytes().to_vec()));
        }
        if page.next_after >= page.head {
            return served;
        }
        after = page.next_after;
    }
}

#[tokio::test]
async fn the_feed_from_zero_is_byte_for_byte_what_a_subscriber_of_every_event_received() {
    let stack = Arc::new(Stack::spawn().await);
    let mut subscriber = Subscriber::bind(&stack.exchange).await;
    run_workload(stack.clone(), 400, 4, SEED).await;
    let head = stack.head().await;
    let received = subscriber
        .receive_until(Duration::from_secs(60), |received| {
            received.iter().any(|r| r.event.position == head)
        })
        .await;
    // Delivery is at least once: a message published twice carries the same bytes.
    let mut published: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    for message in received {
        let body = published
            .entry(message.event.position)
            .or_insert(message.body.clone());
        assert_eq!(*body, message.body, "a redelivery differs");
    }
    let published: Vec<(i64, Vec<u8>)> = published.into_iter().collect();
    assert_eq!(published.len() as i64, head, "the subscriber missed events");

    let served = feed_from_zero(&stack).await;
    assert_eq!(served.len(), published.len());
    for ((position, bytes), (published_at, body)) in served.iter().zip(&published) {
        assert_eq!(position, published_at);
        assert!(
            bytes == body,
            "position {position}: the feed served\n{}\nthe relay published\n{}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(body)
        );
    }
}

/// Opens the feed as an event stream, resuming after `last` if a stream was cut before.
async fn open_stream(stack: &Stack, last: Option<i64>) -> SseReader {
    let mut request = events_client()
        .get(stack.query_url("/v1/events?after=0"))
        .header("accept", "text/event-stream");
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    let response = request.send().await.expect("the query service answers");
    assert_eq!(response.status(), 200);
    SseReader::new(response)
}

#[tokio::test]
async fn a_stream_reader_cut_off_twice_while_commands_flow_gets_every_position_once() {
    let stack = Arc::new(Stack::spawn().await);
    let workload = tokio::spawn(run_workload(stack.clone(), 10_000, 8, SEED + 7));
    let mut positions: Vec<i64> = Vec::new();
    // Cut off after 2,000 events, then after 5,000 more; the third connection reads on.
    for cut_after in [Some(2_000), Some(5_000), None] {
        let mut reader = open_stream(&stack, positions.last().copied()).await;
        let mut read = 0;
        loop {
            if cut_after == Some(read) {
                break;
            }
            if workload.is_finished() {
                let head = stack.head().await;
                if positions.last().is_some_and(|last| *last >= head) {
                    break;
                }
            }
            // Waits a second at most, to look at the workload again.
            let Ok(frame) = tokio::time::timeout(Duration::from_secs(1), reader.next_event()).await
            else {
                continue;
            };
            let frame = frame.expect("the stream goes on");
            let data: serde_json::Value =
                serde_json::from_str(frame.data.as_deref().expect("data")).expect("JSON");
            assert_eq!(data["position"].as_i64(), Some(frame.position()));
            positions.push(frame.position());
            read += 1;
        }
    }
    workload.await.expect("the workload ran");
    let head = stack.head().await;
    assert!(
        head > 7_000,
        "too few events ({head}) for both cuts to fall inside the stream"
    );
    let expected: Vec<i64> = (1..=head).collect();
    assert!(
        positions == expected,
        "{} positions received for a head of {head}; first out of place: {:?}",
        positions.len(),
        positions
            .iter()
            .zip(&expected)
            .find(|(got, want)| got != want)
    );
}
