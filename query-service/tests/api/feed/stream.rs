//! The feed as Server-Sent Events: catching up and following new commits, resuming with
//! `Last-Event-ID`, filters, heartbeats, a slow reader's bound, and the end of streams when
//! the service stops.

use std::time::Duration;

use stockflow_event_store::StoredEvent;
use stockflow_testkit::{Frame, SseReader};

use super::seed::Planned;
use super::{FeedApp, Served, published};

/// Reads events until one at `position` (or the stream's end); returns them as served.
async fn read_through(reader: &mut SseReader, position: i64) -> Vec<Frame> {
    let mut frames: Vec<Frame> = Vec::new();
    while frames.last().is_none_or(|f| f.position() < position) {
        match reader.next_event().await {
            Some(frame) => frames.push(frame),
            None => break,
        }
    }
    frames
}

/// The frames as the feed's events, checking that each names its event's position and type.
fn served(frames: &[Frame], stored: &[StoredEvent]) -> Vec<Served> {
    frames
        .iter()
        .map(|frame| {
            let position = frame.position();
            let event = stored
                .iter()
                .find(|e| e.position == position)
                .expect("a stored event");
            assert_eq!(frame.event.as_deref(), Some(event.event_type.as_str()));
            Served {
                position,
                text: frame.data.clone().expect("data"),
            }
        })
        .collect()
}

#[tokio::test]
async fn a_stream_catches_up_then_follows_new_commits_without_gap_or_double() {
    let mut app = FeedApp::spawn().await;
    app.seeder.mixed(1200).await;
    let mut reader = app.stream("after=0", &[]).await;
    // Commits go on while the reader catches up, and after.
    let mut seeder = app.seeder;
    let appends = tokio::spawn(async move {
        for _ in 0..60 {
            seeder.mixed(5).await;
        }
        seeder
    });
    let frames = read_through(&mut reader, 1500).await;
    app.seeder = appends.await.expect("the appends finish");
    let stored = app.seeder.stored().await;
    assert_eq!(stored.len(), 1500);
    assert!(served(&frames, &stored) == published(&stored.iter().collect::<Vec<_>>()));
}

#[tokio::test]
async fn a_reader_resumes_after_its_last_event_id() {
    let mut app = FeedApp::spawn().await;
    app.seeder.mixed(300).await;
    let stored = app.seeder.stored().await;
    let mut reader = app.stream("after=0", &[]).await;
    let first = read_through(&mut reader, 100).await;
    drop(reader);
    // A client reconnecting sends the URL it began with and the last id it received.
    let mut resumed = app.stream("after=0", &[("last-event-id", "100")]).await;
    let rest = read_through(&mut resumed, 300).await;
    let all: Vec<Frame> = first.into_iter().chain(rest).collect();
    assert!(served(&all, &stored) == published(&stored.iter().collect::<Vec<_>>()));

    let mut later = app.stream("after=250", &[]).await;
    let tail = read_through(&mut later, 300).await;
    assert_eq!(tail.first().map(Frame::position), Some(251));
    assert_eq!(tail.len(), 50);
}

#[tokio::test]
async fn filters_apply_to_streams_before_and_after_the_switch() {
    let mut app = FeedApp::spawn().await;
    app.seeder.mixed(600).await;
    let correlation = app.seeder.correlations[2];
    let query = format!("type=order.*&correlation_id={correlation}");
    let stored = app.seeder.stored().await;
    let passes = |e: &&StoredEvent| {
        e.event_type.starts_with("order.")
            && e.metadata["correlation_id"] == correlation.to_string()
    };
    let selected: Vec<&StoredEvent> = stored.iter().filter(passes).collect();
    let mut reader = app.stream(&query, &[]).await;
    let mut frames = Vec::new();
    for _ in &selected {
        frames.push(reader.next_event().await.expect("an event"));
    }
    assert!(served(&frames, &stored) == published(&selected));

    let order = app.seeder.orders[0].clone();
    let planned = |event_type: &str, correlation_id| Planned {
        stream: order.clone(),
        event_type: event_type.to_owned(),
        data: serde_json::json!({}),
        correlation_id,
    };
    let others = app.seeder.correlations[3];
    app.seeder
        .append(vec![planned("order.placed", Some(others))])
        .await;
    let wanted = app
        .seeder
        .append(vec![
            planned("order.ready", Some(correlation)),
            planned("order.shipped", None),
        ])
        .await
        - 1;
    let next = reader.next_event().await.expect("the new event");
    assert_eq!(next.position(), wanted);
    assert_eq!(next.event.as_deref(), Some("order.ready"));
}

#[tokio::test]
async fn an_idle_stream_gets_comment_lines() {
    let app = FeedApp::spawn_with(|config| config.feed_heartbeat_interval_ms = 50).await;
    let mut reader = app.stream("", &[]).await;
    for _ in 0..2 {
        let frame = reader.next_frame().await.expect("a heartbeat");
        assert_eq!(frame.id, None);
        assert_eq!(frame.data, None);
        assert_eq!(frame.comments.len(), 1, "{frame:?}");
    }
}

#[tokio::test]
async fn a_stream_follows_commits_through_a_lost_listener_and_lost_notifications() {
    // The timer re-reads the head too seldom to matter in the first part.
    let mut app = FeedApp::spawn_with(|config| config.feed_poll_interval_ms = 600_000).await;
    app.seeder.mixed(5).await;
    let mut reader = app.stream("", &[]).await;
    assert_eq!(read_through(&mut reader, 5).await.len(), 5);
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN%stockflow_events%'",
    )
    .fetch_all(app.seeder.pool())
    .await
    .expect("the listener is found");
    assert_eq!(
        killed,
        [true],
        "one listener of the head for the whole service"
    );
    // Committed while nobody may be listening: the listener's re-read after it reconnects
    // finds it.
    let order = app.seeder.orders[0].clone();
    let position = app
        .seeder
        .append(vec![Planned {
            stream: order,
            event_type: "order.placed".into(),
            data: serde_json::json!({}),
            correlation_id: None,
        }])
        .await;
    assert_eq!(
        reader.next_event().await.map(|f| f.position()),
        Some(position)
    );

    // With notifications lost for good, the timer finds new commits.
    let app = FeedApp::spawn_with(|config| config.feed_poll_interval_ms = 100).await;
    let mut reader = app.stream("", &[]).await;
    let position = app.seeder.append_silently().await;
    assert_eq!(
        reader.next_event().await.map(|f| f.position()),
        Some(position)
    );
}

/// Polls the feed's statistics until its streams stop sending (the reader has stalled).
async fn stalled(app: &FeedApp) -> stockflow_query_service::feed::FeedStats {
    let mut last = app.feed.stats();
    let mut unchanged = 0;
    while unchanged < 20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = app.feed.stats();
        unchanged = if now == last { unchanged + 1 } else { 0 };
        last = now;
    }
    last
}

#[tokio::test]
async fn a_reader_that_stalls_holds_at_most_one_chunk_and_slows_nobody_else() {
    let mut app = FeedApp::spawn().await;
    let product = app.seeder.products[0].clone();
    // 60 MB of events, 25 KB each.
    let count = 2_400;
    app.seeder
        .bulk(&product, "product.stock_adjusted", count, 25_000, 100)
        .await;
    let mut reader = app.stream("", &[]).await;
    assert!(reader.read_some().await > 0);

    let stats = stalled(&app).await;
    assert_eq!(stats.open_streams, 1);
    let chunk = stockflow_query_service::feed::CHUNK as u64;
    assert!(stats.read <= stats.sent + chunk, "{stats:?}");
    assert!(
        stats.read < count as u64 / 2,
        "the stream read on without its reader: {stats:?}"
    );
    // The service answers others meanwhile.
    let page = super::Page::of(&app.get("/v1/events?after=2390").await);
    assert_eq!(page.events.len(), 10);

    drop(reader);
    while app.feed.stats().open_streams > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn open_streams_end_when_the_service_stops() {
    let mut app = FeedApp::spawn().await;
    app.seeder.mixed(10).await;
    let mut reader = app.stream("", &[]).await;
    assert_eq!(read_through(&mut reader, 10).await.len(), 10);
    app.service.stop().await;
    assert_eq!(reader.next_event().await, None);
}
