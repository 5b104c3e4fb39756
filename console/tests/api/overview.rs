//! The overview: readiness and figures sampled from the services' open endpoints.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use stockflow_testkit::send;

use crate::support::{Console, closed_url};

/// The overview once `done` holds for it, asked every 50 ms for up to 10 s.
async fn overview_until(console: &Console, cookie: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        let answer = send(console.api(Method::GET, "/api/overview", cookie)).await;
        last = answer.assert_status(200).clone();
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the overview never got there: {last}");
}

fn ready(overview: &Value, service: &str) -> Option<bool> {
    overview["readiness"]
        .as_array()?
        .iter()
        .find(|r| r["service"] == service)?["ready"]
        .as_bool()
}

#[tokio::test]
async fn the_overview_shows_readiness_figures_and_rates_from_the_services_metrics() {
    let console = Console::start().await;
    let cookie = console.sign_in().await;
    let overview = overview_until(&console, &cookie, |o| {
        o["series"]
            .as_array()
            .is_some_and(|s| s.iter().any(|p| p["commands_per_second"].is_number()))
    })
    .await;
    for service in ["command-service", "query-service", "projector"] {
        assert_eq!(ready(&overview, service), Some(true), "{overview}");
    }
    // The fake's gauges: the head is what the relay published plus what it has not yet.
    let relay = overview["relay_position"].as_i64().unwrap();
    assert_eq!(overview["relay_lag_events"], 2);
    assert_eq!(overview["head"], relay + 2);
    assert_eq!(overview["projector_position"], 95);
    assert_eq!(overview["lag_events"], 7);
    assert_eq!(overview["lag_seconds"], 0.25);
    assert_eq!(overview["dead_letters"], 3);
    assert_eq!(overview["replica_lag_seconds"], 1.5);
    // Its counters grow by 10 a scrape.
    let point = overview["series"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|p| p["commands_per_second"].is_number())
        .unwrap();
    assert!(
        point["commands_per_second"].as_f64().unwrap() > 0.0,
        "{point}"
    );
    assert!(
        point["events_per_second"].as_f64().unwrap() > 0.0,
        "{point}"
    );
    assert_eq!(point["lag_events"], 7);
    assert!(point["at"].is_string());
}

#[tokio::test]
async fn a_service_down_or_not_ready_shows_as_not_ready_and_its_figures_as_unknown() {
    let down = closed_url().await;
    let console = Console::start_with(|c| c.commands_url = down).await;
    console.fake.set_ready(false);
    let cookie = console.sign_in().await;
    let overview = overview_until(&console, &cookie, |o| {
        o["series"].as_array().is_some_and(|s| !s.is_empty())
    })
    .await;
    assert_eq!(ready(&overview, "command-service"), Some(false));
    assert_eq!(ready(&overview, "query-service"), Some(false));
    assert_eq!(ready(&overview, "projector"), Some(false));
    assert_eq!(overview["head"], Value::Null);
    assert_eq!(overview["relay_position"], Value::Null);
    // The projector still gives its figures though it says it is not ready.
    assert_eq!(overview["projector_position"], 95);

    console.fake.set_ready(true);
    let overview = overview_until(&console, &cookie, |o| ready(o, "projector") == Some(true)).await;
    assert_eq!(ready(&overview, "command-service"), Some(false));
}

#[tokio::test]
async fn the_overview_needs_a_session_and_the_console_header() {
    let console = Console::start().await;
    send(
        console
            .client
            .get(console.url("/api/overview"))
            .header("x-console", "1"),
    )
    .await
    .assert_problem(401, "not_signed_in");
    let cookie = console.sign_in().await;
    send(
        console
            .client
            .get(console.url("/api/overview"))
            .header("cookie", &cookie),
    )
    .await
    .assert_problem(403, "missing_console_header");
}
