//! The projections page: pausing holds the read models where they are while events go on,
//! resuming catches them up; a rebuild is followed to its end, its progress bar full.

use std::time::Duration;

use crate::browser::{WAIT, eventually};
use crate::fixture::{Console, number};

/// One projection's row, as the table shows it.
#[derive(Debug)]
pub(crate) struct Shown {
    pub status: String,
    pub position: Option<i64>,
    pub lag_events: Option<i64>,
    /// Why it stopped, and where: empty while it runs.
    pub error: String,
}

/// Each projection's row, in the order shown.
pub(crate) async fn projections(console: &Console) -> Vec<Shown> {
    let rows = console
        .browser
        .eval(
            "return [...document.querySelectorAll('table#projections-table tr[data-projection]')] \
                .map(r => [(r.querySelector('td.status')?.innerText ?? '').trim(), \
                           r.querySelector('td.position')?.innerText ?? '', \
                           r.querySelector('td.lag-events')?.innerText ?? '', \
                           (r.querySelector('td.error')?.innerText ?? '').trim()]);",
            vec![],
        )
        .await;
    let rows: Vec<(String, String, String, String)> =
        serde_json::from_value(rows).expect("rows of the projections table");
    rows.into_iter()
        .map(|(status, position, lag_events, error)| Shown {
            status,
            position: number(&position),
            lag_events: number(&lag_events),
            error,
        })
        .collect()
}

/// Waits until every projection shows `status` at `position`.
pub(crate) async fn wait_projections(console: &Console, status: &str, position: i64) {
    eventually(
        WAIT,
        &format!("every projection {status} at {position}"),
        || async {
            let rows = projections(console).await;
            let all = !rows.is_empty()
                && rows
                    .iter()
                    .all(|row| row.status == status && row.position == Some(position));
            if all {
                Ok(())
            } else {
                Err(format!("{rows:?}"))
            }
        },
    )
    .await;
}

/// The position the command service's relay has published up to, from its metrics.
async fn relay_published(console: &Console) -> i64 {
    let metrics = reqwest::get(console.stack.command_url("/metrics"))
        .await
        .expect("the command service answers")
        .text()
        .await
        .expect("metrics");
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix("stockflow_relay_published_position "))
        .filter_map(|value| value.trim().parse::<f64>().ok())
        .fold(0.0, f64::max) as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_holds_the_read_models_and_resuming_catches_them_up() {
    let console = Console::start().await;
    let browser = &console.browser;
    console
        .register_product("PROJ-1", "Projection widget")
        .await;
    let (_, held) = console.place_order("PROJ-1", 1).await;

    console.sign_in().await;
    console.navigate("projections").await;
    wait_projections(&console, "running", held).await;

    browser.click("button#projections-pause").await;
    browser
        .wait_text("#projections-status", "says paused", |t| {
            t.to_lowercase().contains("paused")
        })
        .await;
    wait_projections(&console, "paused", held).await;
    browser
        .wait_text("#projections-message", "tells how the pause went", |t| {
            !t.trim().is_empty()
        })
        .await;

    // An order while paused: relayed to the projector's queue, yet not applied.
    let (_, later) = console.place_order("PROJ-1", 2).await;
    eventually(WAIT, "the relay publishes the new order", || async {
        match relay_published(&console).await {
            published if published >= later => Ok(()),
            published => Err(format!("published up to {published}")),
        }
    })
    .await;
    // There is nothing to wait for here, only something that must not happen: the page is
    // watched over a few of its refreshes (every 2 s), and the position must not move.
    let watch_until = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < watch_until {
        let rows = projections(&console).await;
        assert!(
            rows.iter()
                .all(|row| row.status == "paused" && row.position == Some(held)),
            "a paused projection moved: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let read = console.stack.query("/v1/products/PROJ-1").await;
    assert_eq!(
        read.projection_position(),
        held,
        "the read models moved while paused"
    );

    browser.click("button#projections-resume").await;
    browser
        .wait_text("#projections-status", "says running", |t| {
            t.to_lowercase().contains("running")
        })
        .await;
    wait_projections(&console, "running", later).await;
    console.stack.wait_for_projection(later, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_is_followed_to_its_end() {
    let console = Console::start().await;
    let browser = &console.browser;
    console.register_product("REB-1", "Rebuild widget").await;
    for quantity in 1..=10 {
        console.place_order("REB-1", quantity).await;
    }
    let head = console.stack.head().await;
    let events = i64::try_from(console.stack.events().await.len()).expect("a few");

    console.sign_in().await;
    console.navigate("projections").await;
    wait_projections(&console, "running", head).await;

    browser.click("button#rebuild-start").await;
    browser
        .wait_text("#rebuild-status", "reaches done", |t| {
            let t = t.to_lowercase();
            assert!(!t.contains("failed"), "the rebuild failed: {t}");
            t.contains("done")
        })
        .await;
    let progress = eventually(WAIT, "the progress bar is full", || async {
        let value = browser.attr("progress#rebuild-progress", "value").await;
        let max = browser.attr("progress#rebuild-progress", "max").await;
        let (value, max) = (
            value.as_deref().and_then(number),
            max.as_deref().and_then(number),
        );
        match (value, max) {
            (Some(value), Some(max)) if value == max && max > 0 => Ok(max),
            seen => Err(format!("(value, max) = {seen:?}")),
        }
    })
    .await;
    assert!(
        progress >= events,
        "the rebuild went over every event: {progress} of {events}"
    );
    browser.screenshot("projections").await;

    // The rebuilt read models are live: a new order reaches them.
    wait_projections(&console, "running", head).await;
    let (_, later) = console.place_order("REB-1", 1).await;
    wait_projections(&console, "running", later).await;
    browser
        .wait_text("#projections-message", "tells how the rebuild went", |t| {
            !t.trim().is_empty()
        })
        .await;
}
