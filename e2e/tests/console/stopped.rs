//! A projection stopped by an event it cannot apply, as an operator meets it: the projections
//! page shows it stopped, why and at which position; a retry tries again and it stops again;
//! skipping that one event lets the read models catch up, the event waits among the dead
//! letters as `skipped`, and the audit page shows the retry and the skip with their reasons.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::browser::{WAIT, eventually};
use crate::dead_letters::{listed, open, row, wait_audit};
use crate::fixture::{Console, OPERATOR};
use crate::projections::{projections, wait_projections};

const RETRY_REASON: &str = "after checking the product GHOST";
const SKIP_REASON: &str = "stock of a product never registered";

/// Appends to the store, as a defective writer could have, stock adjusted on a product no one
/// registered: no read model can apply it. The stack's relay publishes it like any other.
/// Returns its position.
async fn append_ghost_stock(console: &Console) -> i64 {
    let data = json!({"sku": "GHOST", "delta": 3, "reason": "count", "on_hand": 3,
                      "reserved": 0, "available": 3});
    let mut db = console.stack.db().await;
    let position: i64 = sqlx::query_scalar(
        "WITH head AS (UPDATE event_store.head SET position = position + 1 RETURNING position)
         INSERT INTO event_store.events (position, stream_id, stream_version, event_id,
                event_type, type_version, data, metadata, commit_position)
         SELECT position, 'product-GHOST', 2, $1, 'product.stock_adjusted', 1, $2, '{}',
                position
           FROM head
         RETURNING position",
    )
    .bind(Uuid::now_v7())
    .bind(&data)
    .fetch_one(&mut db)
    .await
    .expect("the event is appended");
    // Wakes the relay as an append through the store does.
    sqlx::query("SELECT pg_notify('stockflow_events', $1)")
        .bind(position.to_string())
        .execute(&mut db)
        .await
        .expect("the relay is told");
    position
}

/// Waits until every projection shows `stopped` at `position`, `head - position` events
/// behind, with an error that names the product and says it failed at `failing`.
async fn wait_stopped(console: &Console, position: i64, failing: i64, head: i64) {
    let at = format!("(at position {failing})");
    eventually(
        WAIT,
        &format!("every projection stopped at {position}, failing {at}"),
        || async {
            let rows = projections(console).await;
            let stopped = !rows.is_empty()
                && rows.iter().all(|row| {
                    row.status == "stopped"
                        && row.position == Some(position)
                        && row.lag_events == Some(head - position)
                        && row.error.contains("GHOST")
                        && row.error.contains(&at)
                });
            if stopped {
                Ok(())
            } else {
                Err(format!("{rows:?}"))
            }
        },
    )
    .await;
}

/// From now on, the page keeps each status `#projections-status` shows, in turn, for
/// [`statuses_shown`]: a status shown only between two looks of the test is kept too.
async fn record_statuses(console: &Console) {
    console
        .browser
        .eval(
            "const status = document.getElementById('projections-status'); \
             const seen = [status.textContent]; \
             window.statusesShown = seen; \
             new MutationObserver(() => { \
                 if (seen[seen.length - 1] !== status.textContent) seen.push(status.textContent); \
             }).observe(status, {childList: true, characterData: true, subtree: true});",
            vec![],
        )
        .await;
}

async fn statuses_shown(console: &Console) -> Vec<String> {
    let seen = console
        .browser
        .eval("return window.statusesShown ?? [];", vec![])
        .await;
    serde_json::from_value(seen).expect("the statuses shown")
}

/// Waits until the message under the projections page passes `check`, and checks it is shown
/// as a success, not as an error.
async fn wait_message(console: &Console, what: &str, check: impl Fn(&str) -> bool) {
    let browser = &console.browser;
    let message = browser.wait_text("#projections-message", what, check).await;
    let class = browser.attr("#projections-message", "class").await;
    assert!(
        class.as_deref().is_some_and(|c| !c.contains("error")),
        "{what}: {message:?} is shown as an error (class {class:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_projection_is_retried_then_skipped_past_its_event() {
    let console = Console::start().await;
    let stack = &console.stack;
    let browser = &console.browser;
    console.register_product("STOP-1", "Stopping widget").await;
    let applied = stack.head().await;
    stack.wait_for_projection(applied, WAIT).await;
    let ghost = append_ghost_stock(&console).await;
    assert_eq!(ghost, applied + 1);
    // An order after it, waiting behind it.
    let (order_id, head) = console.place_order("STOP-1", 1).await;
    assert!(head > ghost);

    // The projector tries the event five times over about three seconds, then stops there.
    console.sign_in().await;
    console.navigate("projections").await;
    wait_stopped(&console, applied, ghost, head).await;
    browser
        .wait_text("#projections-status", "says stopped", |t| {
            t.trim() == "stopped"
        })
        .await;
    browser
        .wait_text("#projections-head", "shows the store's head", |t| {
            t.trim() == head.to_string()
        })
        .await;
    browser.screenshot("projections-stopped").await;

    // Retry: the projection runs again, meets the same event, and stops again at it.
    record_statuses(&console).await;
    browser.fill("input#projections-reason", RETRY_REASON).await;
    browser.click("button#projections-retry").await;
    wait_message(&console, "tells the retry was taken", |m| {
        m.to_lowercase().contains("retr")
    })
    .await;
    eventually(WAIT, "the page shows it running, then stopped", || async {
        let seen = statuses_shown(&console).await;
        let ran = seen.iter().position(|s| s.trim() == "running");
        let stopped_again =
            ran.is_some_and(|ran| seen[ran..].iter().any(|s| s.trim() == "stopped"));
        if stopped_again && seen.last().is_some_and(|s| s.trim() == "stopped") {
            Ok(())
        } else {
            Err(format!("statuses shown: {seen:?}"))
        }
    })
    .await;
    wait_stopped(&console, applied, ghost, head).await;

    // Skip that one event, with a reason: without one the page says what is missing and
    // sends nothing.
    browser
        .fill("input#skip-position", &ghost.to_string())
        .await;
    browser.click("button#skip-submit").await;
    browser
        .wait_text("#projections-message", "asks for a reason", |m| {
            m.contains("reason")
        })
        .await;
    wait_stopped(&console, applied, ghost, head).await;
    browser.fill("input#skip-reason", SKIP_REASON).await;
    browser.click("button#skip-submit").await;
    wait_message(&console, "tells the event was skipped", |m| {
        m.contains(&format!("position {ghost}"))
    })
    .await;
    wait_projections(&console, "running", head).await;
    browser
        .wait_text("#projections-status", "says running", |t| {
            t.trim() == "running"
        })
        .await;
    let rows = projections(&console).await;
    assert!(
        rows.iter().all(|row| row.error.is_empty()),
        "an error is still shown: {rows:?}"
    );
    stack
        .query_at(&format!("/v1/orders/{order_id}"), head)
        .await
        .assert_status(200);

    // The skipped event waits among the dead letters, as it was published.
    console.navigate("dead-letters").await;
    browser
        .wait_text("#dead-letters-total", "counts the skipped event", |t| {
            t.trim() == "1"
        })
        .await;
    let skipped = eventually(WAIT, "the skipped event is listed", || async {
        match listed(&console).await.as_slice() {
            [id] => Ok(id.clone()),
            ids => Err(format!("{ids:?}")),
        }
    })
    .await;
    let shown = browser.text(&row(&skipped)).await.unwrap_or_default();
    assert!(
        shown.contains("skipped") && shown.contains("product.stock_adjusted"),
        "the dead letter shows why and its routing key: {shown:?}"
    );
    open(&console, &skipped, "GHOST", "skipped").await;

    // The audit page: the retry and the skip, by the operator, with their reasons.
    console.navigate("audit").await;
    let expected: [Value; 2] = [
        json!({"subject": OPERATOR, "action": "projection.retry",
               "target": "projections:live", "reason": RETRY_REASON, "outcome": "done"}),
        json!({"subject": OPERATOR, "action": "projection.skip",
               "target": format!("event:{ghost}"), "reason": SKIP_REASON, "outcome": "done"}),
    ];
    wait_audit(
        &console,
        "the audit log shows the retry and the skip",
        &expected,
    )
    .await;
}
