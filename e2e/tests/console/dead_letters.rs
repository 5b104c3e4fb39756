//! The dead letters: poison on the projector's queue is listed with its reason and read whole;
//! a replay and a discard are each confirmed first, their outcome shown, the list and total
//! refreshed; and the audit page shows both actions with the operator's subject. A dead letter
//! the read models turn out to have already is cleared by its replay.

use serde_json::{Map, Value, json};
use stockflow_event_store::{EventStore, StoredEvent};
use stockflow_projector::dead_letters::store::{self, NewDeadLetter};
use stockflow_projector::dead_letters::{ReasonKind, Rejection, dedupe_key};

use crate::browser::{WAIT, eventually};
use crate::fixture::{Console, OPERATOR};

const DISCARD_REASON: &str = "a test message published by hand";

/// The ids of the listed dead letters, in the order shown.
pub(crate) async fn listed(console: &Console) -> Vec<String> {
    console
        .browser
        .attrs("table#dead-letters-table tr[data-id]", "data-id")
        .await
        .into_iter()
        .flatten()
        .collect()
}

pub(crate) fn row(id: &str) -> String {
    format!("table#dead-letters-table tr[data-id=\"{id}\"]")
}

/// Opens the dead letter `id` and waits for its detail to show `body` and why it is here,
/// `reason`.
pub(crate) async fn open(console: &Console, id: &str, body: &str, reason: &str) {
    let browser = &console.browser;
    browser.click(&row(id)).await;
    browser.wait_visible("#dead-letter-detail").await;
    browser
        .wait_text("pre#dead-letter-body", "shows the body", |t| {
            t.contains(body)
        })
        .await;
    browser
        .wait_text("#dead-letter-reason-text", "shows why", |t| {
            t.contains(reason)
        })
        .await;
}

/// Whether the confirmation dialog is open.
async fn confirming(console: &Console) -> bool {
    console
        .browser
        .attr("dialog#confirm", "open")
        .await
        .is_some()
        && console.browser.is_visible("dialog#confirm").await
}

/// Clicks `button` and answers the confirmation with `answer` (`#confirm-yes`, `#confirm-no`).
async fn act(console: &Console, button: &str, answer: &str) {
    let browser = &console.browser;
    browser.click(button).await;
    eventually(WAIT, "the console asks first", || async {
        if confirming(console).await {
            Ok(())
        } else {
            Err("no open dialog#confirm".to_owned())
        }
    })
    .await;
    let question = browser.text("#confirm-text").await.unwrap_or_default();
    assert!(!question.trim().is_empty(), "the dialog says what it asks");
    browser.click(answer).await;
    eventually(WAIT, "the dialog closes", || async {
        if confirming(console).await {
            Err("dialog#confirm still open".to_owned())
        } else {
            Ok(())
        }
    })
    .await;
}

/// The attempts the store counts for dead letter `id`.
async fn attempts(console: &Console, id: &str) -> i32 {
    let id: i64 = id.parse().expect("a dead letter's id is an integer");
    sqlx::query_scalar("SELECT attempts FROM ops.dead_letters WHERE id = $1")
        .bind(id)
        .fetch_one(&mut console.stack.db().await)
        .await
        .expect("the dead letter is in the store")
}

/// Records the store's event at `position`, as the relay published it, as a dead letter that
/// waits for a replay: what the projector keeps of such a message found in the dead-letter
/// queue an earlier projector left. Returns the event and the dead letter's id.
async fn set_aside_event(console: &Console, position: i64) -> (StoredEvent, String) {
    let mut db = console.stack.db().await;
    let event = EventStore::read_after(&mut db, position - 1, 1)
        .await
        .expect("the store is readable")
        .pop()
        .unwrap_or_else(|| panic!("the store has no event at {position}"));
    let body = event.published_body();
    let letter = NewDeadLetter {
        rejection: Rejection {
            kind: ReasonKind::Unapplied,
            text: "found in an earlier projector's dead-letter queue; it decodes now: replay it"
                .into(),
            event_id: Some(event.event_id),
            position: Some(event.position),
        },
        routing_key: event.event_type.clone(),
        headers: json!({}),
        properties: json!({"content_type": "application/json", "delivery_mode": 2}),
        dedupe_key: dedupe_key(Some(event.event_id), None, &event.event_type, &body),
        body,
    };
    assert!(
        store::insert(&mut db, &letter)
            .await
            .expect("the dead letter is recorded"),
        "the event was a dead letter already"
    );
    let id: i64 = sqlx::query_scalar("SELECT id FROM ops.dead_letters WHERE event_id = $1")
        .bind(event.event_id)
        .fetch_one(&mut db)
        .await
        .expect("the dead letter has an id");
    (event, id.to_string())
}

/// The audit log's rows, as shown.
async fn audit_rows(console: &Console) -> Vec<Map<String, Value>> {
    let rows = console
        .browser
        .eval(
            "return [...document.querySelectorAll('table#audit-table tr')] \
                .filter(r => r.querySelector('td.action')) \
                .map(r => Object.fromEntries(['at', 'subject', 'action', 'target', 'reason', \
                                              'outcome'] \
                    .map(c => [c, (r.querySelector('td.' + c)?.innerText ?? '').trim()])));",
            vec![],
        )
        .await;
    serde_json::from_value(rows).expect("rows of the audit table")
}

/// Waits until the audit page shows a row for each of `expected` (each the cells it must
/// have); returns every row shown.
pub(crate) async fn wait_audit(
    console: &Console,
    what: &str,
    expected: &[Value],
) -> Vec<Map<String, Value>> {
    eventually(WAIT, what, || async {
        let rows = audit_rows(console).await;
        let found = expected.iter().all(|want| {
            rows.iter().any(|row| {
                want.as_object()
                    .expect("an object")
                    .iter()
                    .all(|(key, value)| row.get(key) == Some(value))
            })
        });
        if found {
            Ok(rows)
        } else {
            Err(format!("{rows:?}"))
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_replays_and_discards_dead_letters_and_the_audit_log_shows_it() {
    let console = Console::start().await;
    let stack = &console.stack;
    let browser = &console.browser;
    stack.wait_for_consumer(WAIT).await;
    let poison = [
        ("console.poison.one", "not a CloudEvent, the first"),
        ("console.poison.two", "not a CloudEvent, the second"),
    ];
    for (routing_key, body) in poison {
        stack.publish(routing_key, body.as_bytes()).await;
    }
    eventually(WAIT, "the projector dead-letters both", || async {
        match stack.dead_letters().await {
            2 => Ok(()),
            n => Err(format!("{n} dead letters")),
        }
    })
    .await;

    console.sign_in().await;
    console.navigate("dead-letters").await;
    browser
        .wait_text("#dead-letters-total", "counts both", |t| t.trim() == "2")
        .await;
    let ids = eventually(WAIT, "both are listed", || async {
        let ids = listed(&console).await;
        if ids.len() == 2 {
            Ok(ids)
        } else {
            Err(format!("{ids:?}"))
        }
    })
    .await;
    for (id, (routing_key, _)) in ids.iter().zip(poison) {
        let shown = browser.text(&row(id)).await.unwrap_or_default();
        assert!(
            shown.contains("undecodable") && shown.contains(routing_key),
            "dead letter {id} shows its reason and routing key: {shown:?}"
        );
    }
    let (replayed, discarded) = (&ids[0], &ids[1]);

    // Replay: the console asks first; "no" leaves it alone.
    open(&console, replayed, poison[0].1, "undecodable").await;
    browser.screenshot("dead-letters").await;
    act(&console, "button#dead-letter-replay", "button#confirm-no").await;
    assert_eq!(
        attempts(&console, replayed).await,
        1,
        "replayed without a yes"
    );
    // "Yes": still not a CloudEvent, so it is dead-lettered again, and stays, one attempt more.
    act(&console, "button#dead-letter-replay", "button#confirm-yes").await;
    browser
        .wait_text("#dead-letter-outcome", "shows the replay's outcome", |t| {
            t.to_lowercase()
                .replace(['_', '-'], " ")
                .contains("dead lettered")
        })
        .await;
    assert_eq!(attempts(&console, replayed).await, 2);
    assert_eq!(
        browser.text("#dead-letters-total").await.as_deref(),
        Some("2")
    );

    // Discard the other, with a reason: it leaves the list and the total falls.
    open(&console, discarded, poison[1].1, "undecodable").await;
    browser
        .fill("input#dead-letter-reason", DISCARD_REASON)
        .await;
    act(&console, "button#dead-letter-discard", "button#confirm-yes").await;
    browser
        .wait_text("#dead-letter-outcome", "shows the discard", |t| {
            !t.trim().is_empty()
        })
        .await;
    browser
        .wait_text("#dead-letters-total", "falls to one", |t| t.trim() == "1")
        .await;
    eventually(WAIT, "the discarded one leaves the list", || async {
        let ids = listed(&console).await;
        if ids == [replayed.clone()] {
            Ok(())
        } else {
            Err(format!("{ids:?}"))
        }
    })
    .await;
    assert_eq!(stack.dead_letters().await, 1);

    // The audit page: both actions, by the operator's token.
    console.navigate("audit").await;
    let expected = [
        json!({"subject": OPERATOR, "action": "dead_letter.replay",
               "target": format!("dead_letter:{replayed}"), "outcome": "done"}),
        json!({"subject": OPERATOR, "action": "dead_letter.discard",
               "target": format!("dead_letter:{discarded}"), "reason": DISCARD_REASON,
               "outcome": "done"}),
    ];
    let rows = wait_audit(&console, "the audit log shows both actions", &expected).await;
    assert!(
        rows.iter()
            .all(|row| row["at"].as_str().is_some_and(|at| !at.is_empty())),
        "every action shows when: {rows:?}"
    );
    browser.screenshot("audit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_an_event_the_read_models_have_clears_its_dead_letter() {
    let console = Console::start().await;
    let stack = &console.stack;
    let browser = &console.browser;
    console.register_product("DLR-1", "Replay widget").await;
    let (_, placed) = console.place_order("DLR-1", 2).await;
    stack.wait_for_projection(placed, WAIT).await;
    stack.wait_for_consumer(WAIT).await;
    // Poison beside it, which no replay can clear: only the replayed one may go.
    let poison = "not a CloudEvent, left alone";
    stack
        .publish("console.poison.stays", poison.as_bytes())
        .await;
    eventually(WAIT, "the projector dead-letters the poison", || async {
        match stack.dead_letters().await {
            1 => Ok(()),
            n => Err(format!("{n} dead letters")),
        }
    })
    .await;
    let (event, replayable) = set_aside_event(&console, placed).await;
    assert_eq!(stack.dead_letters().await, 2);

    console.sign_in().await;
    console.navigate("dead-letters").await;
    browser
        .wait_text("#dead-letters-total", "counts both", |t| t.trim() == "2")
        .await;
    let ids = eventually(WAIT, "both are listed", || async {
        let ids = listed(&console).await;
        if ids.len() == 2 && ids.contains(&replayable) {
            Ok(ids)
        } else {
            Err(format!("{ids:?}, {replayable} among them"))
        }
    })
    .await;
    let kept: Vec<String> = ids.into_iter().filter(|id| *id != replayable).collect();
    let shown = browser.text(&row(&replayable)).await.unwrap_or_default();
    assert!(
        shown.contains("unapplied") && shown.contains(&event.event_type),
        "dead letter {replayable} shows its reason and routing key: {shown:?}"
    );

    open(
        &console,
        &replayable,
        &event.event_id.to_string(),
        "unapplied",
    )
    .await;
    browser.screenshot("dead-letter-detail").await;
    act(&console, "button#dead-letter-replay", "button#confirm-yes").await;
    let outcome = browser
        .wait_text("#dead-letter-outcome", "shows the replay's outcome", |t| {
            !t.trim().is_empty()
        })
        .await;
    assert!(
        outcome.starts_with("skipped_duplicate"),
        "the read models have position {placed} already: {outcome:?}"
    );
    let class = browser.attr("#dead-letter-outcome", "class").await;
    assert!(
        class.as_deref().is_some_and(|c| !c.contains("error")),
        "the outcome is shown as a success: class {class:?}"
    );
    browser
        .wait_text("#dead-letters-total", "falls to one", |t| t.trim() == "1")
        .await;
    eventually(WAIT, "the replayed one leaves the list", || async {
        let ids = listed(&console).await;
        if ids == kept {
            Ok(())
        } else {
            Err(format!("{ids:?}, not {kept:?}"))
        }
    })
    .await;
    assert_eq!(stack.dead_letters().await, 1);
    assert_eq!(stack.dead_letter_kinds().await, ["undecodable"]);
}
