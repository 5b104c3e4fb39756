//! The overview: the pipeline's figures agree with the stack and follow it live, every service
//! is shown ready, and the chart draws its series.

use crate::browser::{WAIT, eventually};
use crate::fixture::{Console, number};

const FIGURES: [&str; 6] = [
    "#overview-head",
    "#overview-relay-position",
    "#overview-relay-lag",
    "#overview-projection-position",
    "#overview-lag-events",
    "#overview-dead-letters",
];

/// Waits until the overview shows the store's head `head`, published by the relay and
/// projected, with no lag and no dead letter.
async fn wait_caught_up(console: &Console, head: i64) {
    let browser = &console.browser;
    eventually(
        WAIT,
        &format!("the overview shows head {head}, caught up"),
        || async {
            let mut shown = Vec::new();
            for figure in FIGURES {
                shown.push(browser.text(figure).await.as_deref().and_then(number));
            }
            let expected = [head, head, 0, head, 0, 0].map(Some);
            if shown == expected {
                Ok(())
            } else {
                Err(format!("{FIGURES:?} = {shown:?}"))
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_follows_the_pipeline_and_shows_every_service_ready() {
    let console = Console::start().await;
    let browser = &console.browser;
    console.register_product("OVER-1", "Overview widget").await;
    for quantity in 1..=5 {
        console.place_order("OVER-1", quantity).await;
    }
    let head = console.stack.head().await;

    console.sign_in().await;
    wait_caught_up(&console, head).await;
    let lag_seconds = browser.text("#overview-lag-seconds").await;
    assert!(
        lag_seconds.as_deref().is_some_and(|t| !t.trim().is_empty()),
        "the lag in seconds is shown: {lag_seconds:?}"
    );

    let readiness = eventually(WAIT, "the three services are shown ready", || async {
        let services = browser
            .attrs("ul#overview-readiness > li", "data-service")
            .await;
        let ready = browser
            .attrs("ul#overview-readiness > li", "data-ready")
            .await;
        let mut seen: Vec<_> = services.into_iter().zip(ready).collect();
        seen.sort();
        let expected = ["command-service", "projector", "query-service"]
            .map(|service| (Some(service.to_owned()), Some("true".to_owned())));
        if seen == expected {
            Ok(seen)
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;
    assert_eq!(readiness.len(), 3);

    // The chart draws lines over the samples it has (two at least, 2 s apart).
    eventually(WAIT, "the chart draws its series", || async {
        let lines = browser
            .eval(
                "const svg = document.querySelector('svg#overview-chart'); \
                 if (!svg) return -1; \
                 return [...svg.querySelectorAll('path, polyline, line')] \
                    .filter(l => l.getTotalLength() > 0).length;",
                vec![],
            )
            .await;
        match lines.as_i64() {
            Some(n) if n > 0 => Ok(()),
            _ => Err(format!("drawn lines: {lines}")),
        }
    })
    .await;
    assert!(
        browser
            .count("svg#overview-chart polyline, svg#overview-chart path")
            .await
            > 0,
        "the series are paths or polylines"
    );
    // The legend, in the chart or beside it, names the series.
    let legend = browser
        .eval(
            "return document.querySelector('svg#overview-chart').parentElement.textContent \
                .toLowerCase();",
            vec![],
        )
        .await;
    let legend = legend.as_str().unwrap_or_default();
    assert!(
        legend.contains("commands") && legend.contains("events") && legend.contains("lag"),
        "the chart's legend names its series: {legend:?}"
    );

    // More orders while the operator watches: the figures follow without a reload.
    for quantity in 1..=3 {
        console.place_order("OVER-1", quantity).await;
    }
    let later = console.stack.head().await;
    assert!(later > head);
    wait_caught_up(&console, later).await;
    browser.screenshot("overview").await;
}
