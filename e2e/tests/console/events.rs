//! The events page: an order's whole timeline by its stream and by its correlation id, as the
//! store has it; and hostile text in an event shown as text, never as markup.

use serde_json::json;
use stockflow_event_store::StoredEvent;
use uuid::Uuid;

use crate::browser::{WAIT, eventually};
use crate::fixture::Console;

/// One row of the events table, as shown.
#[derive(Debug, serde::Deserialize)]
struct Row {
    position: Option<String>,
    cells: std::collections::BTreeMap<String, String>,
}

async fn rows(console: &Console) -> Vec<Row> {
    let rows = console
        .browser
        .eval(
            "return [...document.querySelectorAll('table#events-table tr[data-position]')] \
                .map(r => ({position: r.getAttribute('data-position'), \
                            cells: Object.fromEntries(['position', 'type', 'stream', 'time', \
                                                       'correlation', 'data'] \
                                .map(c => [c, r.querySelector('td.' + c)?.innerText ?? ''])) }));",
            vec![],
        )
        .await;
    serde_json::from_value(rows).expect("rows of the events table")
}

/// Searches by `by` (`stream`, `correlation_id`) for `query` and waits until the table shows
/// exactly `expected`, in order; returns the rows.
async fn search(console: &Console, by: &str, query: &str, expected: &[&StoredEvent]) -> Vec<Row> {
    let browser = &console.browser;
    browser.select("select#events-by", by).await;
    browser.fill("input#events-query", query).await;
    browser.click("button#events-submit").await;
    let positions: Vec<String> = expected.iter().map(|e| e.position.to_string()).collect();
    eventually(WAIT, &format!("the events of {by} {query}"), || async {
        let rows = rows(console).await;
        let shown: Vec<String> = rows.iter().filter_map(|r| r.position.clone()).collect();
        if shown == positions {
            Ok(rows)
        } else {
            let error = browser.text("#events-error").await;
            Err(format!(
                "positions {shown:?} (error {error:?}), not {positions:?}"
            ))
        }
    })
    .await
}

/// Each row shows its event's position, type and stream.
#[track_caller]
fn assert_rows_show(rows: &[Row], events: &[&StoredEvent]) {
    for (row, event) in rows.iter().zip(events) {
        assert_eq!(
            row.cells["position"].trim(),
            event.position.to_string(),
            "{row:?}"
        );
        assert!(
            row.cells["type"].contains(&event.event_type),
            "{row:?} shows the type {}",
            event.event_type
        );
        assert_eq!(row.cells["stream"].trim(), event.stream_id, "{row:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orders_timeline_is_found_by_its_stream_and_by_its_correlation_id() {
    let console = Console::start().await;
    console.register_product("EVT-1", "Timeline widget").await;
    console.register_product("EVT-2", "Timeline gadget").await;
    let correlation = Uuid::now_v7().to_string();
    let placed = stockflow_testkit::send(
        console
            .stack
            .client
            .post(console.stack.command_url("/v1/orders"))
            .header("x-correlation-id", &correlation)
            .json(&json!({"customer_id": "c-timeline", "lines": [
                {"sku": "EVT-1", "quantity": 2}, {"sku": "EVT-2", "quantity": 1}]})),
    )
    .await;
    let order_id = placed.created_order_id();
    console
        .stack
        .command(
            &format!("/v1/orders/{order_id}/ship"),
            json!({"carrier": "DHL", "tracking_number": "TL-1"}),
        )
        .await
        .ok();
    let stream = format!("order-{order_id}");
    let events = console.stack.events().await;
    let timeline: Vec<&StoredEvent> = events.iter().filter(|e| e.stream_id == stream).collect();
    let correlated: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.metadata["correlation_id"] == correlation.as_str())
        .collect();
    assert!(timeline.len() >= 2, "placed and shipped: {timeline:?}");
    assert!(!correlated.is_empty());

    console.sign_in().await;
    console.navigate("events").await;
    let rows = search(&console, "stream", &stream, &timeline).await;
    assert_rows_show(&rows, &timeline);
    assert!(
        rows[0].cells["correlation"].contains(&correlation),
        "the placing shows its correlation id: {:?}",
        rows[0]
    );
    console.browser.screenshot("events").await;

    // The same request's events, across the order's and the products' streams.
    let rows = search(&console, "correlation_id", &correlation, &correlated).await;
    assert_rows_show(&rows, &correlated);
    assert!(
        rows.iter().any(|r| r.cells["stream"].trim() != stream),
        "the products' events of the placing are there too: {rows:?}"
    );
}

/// A product name that is markup, shown as those very characters: no element made of it, no
/// script run from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_an_event_is_shown_as_text() {
    const HOSTILE: &str = "<img src=x onerror=alert(1)>";
    let console = Console::start().await;
    console.register_product("XSS-1", HOSTILE).await;
    let events = console.stack.events().await;
    let registered: Vec<&StoredEvent> = events
        .iter()
        .filter(|e| e.stream_id == "product-XSS-1")
        .collect();

    console.sign_in().await;
    console.navigate("events").await;
    let rows = search(&console, "stream", "product-XSS-1", &registered).await;
    assert!(
        rows[0].cells["data"].contains(HOSTILE),
        "the name shows as the characters sent: {:?}",
        rows[0]
    );
    let browser = &console.browser;
    assert_eq!(browser.count("table#events-table img").await, 0);
    assert_eq!(browser.count("img[src='x']").await, 0);
    assert_eq!(
        browser.open_alert().await,
        None,
        "a script ran from the data"
    );
    let text = browser
        .eval(
            "return document.querySelector('table#events-table').textContent;",
            vec![],
        )
        .await;
    assert!(text.as_str().is_some_and(|t| t.contains(HOSTILE)), "{text}");
}
