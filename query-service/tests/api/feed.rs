//! The event feed (docs/api.md, "Event feed") against a store filled through the event store:
//! pages with every limit, each filter alone and combined, refusals and scopes. Its streams
//! (Server-Sent Events) are in `feed/stream.rs`.

mod seed;
mod stream;

use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::postgres::PgPoolOptions;
use stockflow_edge::Scope;
use stockflow_event_store::StoredEvent;
use stockflow_query_service::feed::Feed;
use stockflow_query_service::{App, Config};
use stockflow_testkit::{Running, SseReader, TestDatabase, TestResponse, database_args};
use uuid::Uuid;

use seed::Seeder;

/// A query service on a store of the test's own, with a seeder for that store and a client
/// whose token grants `events:read`.
pub struct FeedApp {
    service: Running,
    pub feed: Feed,
    pub seeder: Seeder,
    pub client: reqwest::Client,
    _database: TestDatabase,
}

impl FeedApp {
    pub async fn spawn() -> FeedApp {
        FeedApp::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> FeedApp {
        stockflow_testkit::init_logs();
        let database = TestDatabase::migrated().await;
        let mut config = Config {
            database: database_args(&database.url, false),
            listen_addr: "127.0.0.1:0".into(),
            web: stockflow_testkit::web_config(),
            ..Config::defaults()
        };
        configure(&mut config);
        let app = App::build(config).await.expect("the query service starts");
        let feed = app.feed();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&database.url)
            .await
            .expect("the test database is reachable");
        FeedApp {
            service: Running::start(app),
            feed,
            seeder: Seeder::new(pool),
            client: client(&[Scope::EventsRead]),
            _database: database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.service.url(path)
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        stockflow_testkit::send(self.client.get(self.url(path))).await
    }

    /// The feed's events from the start through every page of `limit`, with `filters`
    /// (`type=…&stream=…`, or empty); checks that each page goes on where the last ended.
    pub async fn all_pages(&self, filters: &str, limit: i64) -> Vec<Served> {
        let mut served: Vec<Served> = Vec::new();
        let mut after = 0;
        loop {
            let page = Page::of(
                &self
                    .get(&format!("/v1/events?{filters}&after={after}&limit={limit}"))
                    .await,
            );
            assert!(page.events.len() as i64 <= limit);
            assert!(page.next_after > after || page.next_after == page.head);
            if let (Some(first), Some(last)) = (page.events.first(), served.last()) {
                assert!(first.position > last.position, "{filters} limit {limit}");
            }
            served.extend(page.events);
            if page.next_after >= page.head {
                return served;
            }
            after = page.next_after;
        }
    }

    /// Opens the feed as a stream of Server-Sent Events from `query`, with these headers.
    pub async fn stream(&self, query: &str, headers: &[(&str, &str)]) -> SseReader {
        let mut request = self
            .client
            .get(self.url(&format!("/v1/events?{query}")))
            .header("accept", "text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the service answers");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        SseReader::new(response)
    }
}

/// A client sending a token that grants `scopes`.
pub fn client(scopes: &[Scope]) -> reqwest::Client {
    stockflow_testkit::authorized_client(scopes)
}

/// An event as the feed sent it: its position and its JSON text, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub position: i64,
    pub text: String,
}

/// A page as sent.
pub struct Page {
    pub events: Vec<Served>,
    pub next_after: i64,
    pub head: i64,
}

impl Page {
    #[track_caller]
    pub fn of(response: &TestResponse) -> Page {
        #[derive(Deserialize)]
        struct Raw<'a> {
            #[serde(borrow)]
            events: Vec<&'a RawValue>,
            next_after: i64,
            head: i64,
        }
        response.assert_ok();
        let raw: Raw = serde_json::from_str(&response.text).expect("a page");
        let events = raw
            .events
            .iter()
            .map(|event| {
                #[derive(Deserialize)]
                struct Positioned {
                    position: i64,
                }
                let Positioned { position } = serde_json::from_str(event.get()).expect("JSON");
                Served {
                    position,
                    text: event.get().to_owned(),
                }
            })
            .collect();
        Page {
            events,
            next_after: raw.next_after,
            head: raw.head,
        }
    }
}

/// What the feed must serve of `stored`: each event's published body, as text.
pub fn published(stored: &[&StoredEvent]) -> Vec<Served> {
    stored
        .iter()
        .map(|event| Served {
            position: event.position,
            text: String::from_utf8(event.published_body()).expect("UTF-8"),
        })
        .collect()
}

/// A filter of the feed, and the same filter applied here to stored events.
#[derive(Debug, Clone, Default)]
struct Filter {
    types: Vec<String>,
    stream: Option<String>,
    correlation_id: Option<Uuid>,
}

impl Filter {
    fn query(&self) -> String {
        let mut parts: Vec<String> = self.types.iter().map(|t| format!("type={t}")).collect();
        parts.extend(self.stream.iter().map(|s| format!("stream={s}")));
        parts.extend(
            self.correlation_id
                .iter()
                .map(|c| format!("correlation_id={c}")),
        );
        parts.join("&")
    }

    fn passes(&self, event: &StoredEvent) -> bool {
        let aggregate = event.event_type.split('.').next().unwrap_or_default();
        let type_passes = self.types.is_empty()
            || self
                .types
                .iter()
                .any(|t| *t == event.event_type || t.strip_suffix(".*") == Some(aggregate));
        let correlation = event.metadata["correlation_id"].as_str();
        type_passes
            && self.stream.as_ref().is_none_or(|s| *s == event.stream_id)
            && self
                .correlation_id
                .is_none_or(|c| correlation == Some(c.to_string().as_str()))
    }
}

#[tokio::test]
async fn pages_of_any_limit_serve_every_event_once_in_order_as_published() {
    let mut app = FeedApp::spawn().await;
    app.seeder.mixed(1200).await;
    let stored = app.seeder.stored().await;
    let positions: Vec<i64> = stored.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=1200).collect::<Vec<i64>>());
    let expected = published(&stored.iter().collect::<Vec<_>>());
    let app = &app;
    let limits: Vec<i64> = (1..=1000).collect();
    for limits in limits.chunks(8) {
        let pages = limits
            .iter()
            .map(|limit| async move { (*limit, app.all_pages("", *limit).await) });
        for (limit, served) in futures_util::future::join_all(pages).await {
            assert!(
                served == expected,
                "limit {limit}: not every event once, as published"
            );
        }
    }

    let last = Page::of(&app.get("/v1/events?after=1195").await);
    assert_eq!(last.events.len(), 5);
    assert_eq!((last.next_after, last.head), (1200, 1200));
    for after in [1200, 5000] {
        let beyond = Page::of(&app.get(&format!("/v1/events?after={after}")).await);
        assert!(beyond.events.is_empty());
        assert_eq!((beyond.next_after, beyond.head), (after, 1200));
    }
    let first = Page::of(&app.get("/v1/events").await);
    assert_eq!(
        first.events,
        expected[..100],
        "after 0 and 100 events by default"
    );
    assert_eq!(first.next_after, 100);
}

#[tokio::test]
async fn every_filter_alone_and_combined_serves_what_it_selects_from_the_store() {
    let mut app = FeedApp::spawn().await;
    app.seeder.mixed(1200).await;
    let stored = app.seeder.stored().await;
    let order = app.seeder.orders[0].clone();
    let product = app.seeder.products[1].clone();
    let correlation = Some(app.seeder.correlations[0]);
    let types = |t: &[&str]| t.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    let filters = [
        Filter {
            types: types(&["order.placed"]),
            ..Filter::default()
        },
        Filter {
            types: types(&["product.stock_reserved", "order.cancelled"]),
            ..Filter::default()
        },
        Filter {
            types: types(&["order.*"]),
            ..Filter::default()
        },
        Filter {
            types: types(&["product.*", "order.placed"]),
            ..Filter::default()
        },
        Filter {
            stream: Some(order.clone()),
            ..Filter::default()
        },
        Filter {
            stream: Some(product.clone()),
            ..Filter::default()
        },
        Filter {
            correlation_id: correlation,
            ..Filter::default()
        },
        Filter {
            types: types(&["product.*"]),
            stream: Some(product.clone()),
            ..Filter::default()
        },
        Filter {
            types: types(&["order.*"]),
            correlation_id: correlation,
            ..Filter::default()
        },
        Filter {
            stream: Some(order.clone()),
            correlation_id: correlation,
            ..Filter::default()
        },
        Filter {
            types: types(&["order.placed", "order.shipped", "order.ready"]),
            stream: Some(order.clone()),
            correlation_id: correlation,
        },
        // Nothing passes: a product stream holds no order events.
        Filter {
            types: types(&["order.placed"]),
            stream: Some(product),
            ..Filter::default()
        },
    ];
    for (i, filter) in filters.iter().enumerate() {
        let selected: Vec<&StoredEvent> = stored.iter().filter(|e| filter.passes(e)).collect();
        assert_eq!(selected.is_empty(), i == filters.len() - 1, "{filter:?}");
        for limit in [7, 1000] {
            let served = app.all_pages(&filter.query(), limit).await;
            assert!(served == published(&selected), "{filter:?} limit {limit}");
        }
    }
}

#[tokio::test]
async fn a_sparse_filter_pages_through_a_large_store_a_window_at_a_time() {
    let mut app = FeedApp::spawn().await;
    let product = app.seeder.products[0].clone();
    app.seeder
        .bulk(&product, "product.stock_adjusted", 12_000, 10, 1000)
        .await;
    let order = app.seeder.orders[0].clone();
    app.seeder.bulk(&order, "order.placed", 1, 10, 1).await;

    let first = Page::of(&app.get("/v1/events?type=order.placed").await);
    assert!(
        first.events.is_empty(),
        "nothing to send in the first window"
    );
    assert_eq!((first.next_after, first.head), (10_000, 12_001));
    let second = Page::of(&app.get("/v1/events?type=order.placed&after=10000").await);
    assert_eq!(second.events.len(), 1);
    assert_eq!(second.events[0].position, 12_001);
    assert_eq!(second.next_after, 12_001);
}

#[tokio::test]
async fn bad_parameters_are_refused_naming_them() {
    let app = FeedApp::spawn().await;
    let bad = [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("after=-1", "after"),
        ("after=abc", "after"),
        ("after=1&after=2", "after"),
        ("type=nope", "type"),
        ("type=order.nope", "type"),
        ("type=order.placed&type=order", "type"),
        ("type=", "type"),
        ("stream=x", "stream"),
        ("stream=order-1", "stream"),
        ("stream=product-lower", "stream"),
        ("correlation_id=not-a-uuid", "correlation_id"),
        (
            "correlation_id=0192f5a47c1e7d2b9a3c4d5e6f708192",
            "correlation_id",
        ),
        ("cursor=abc", "cursor"),
    ];
    for (query, parameter) in bad {
        app.get(&format!("/v1/events?{query}"))
            .await
            .assert_invalid(parameter);
        let streamed = stockflow_testkit::send(
            app.client
                .get(app.url(&format!("/v1/events?{query}")))
                .header("accept", "text/event-stream"),
        )
        .await;
        streamed.assert_invalid(parameter);
    }
    for last_event_id in ["abc", "-1", "1.5", ""] {
        for accept in ["application/json", "text/event-stream"] {
            let refused = stockflow_testkit::send(
                app.client
                    .get(app.url("/v1/events"))
                    .header("accept", accept)
                    .header("last-event-id", last_event_id),
            )
            .await;
            refused.assert_invalid("Last-Event-ID");
        }
    }
}

#[tokio::test]
async fn the_feed_needs_the_events_scope_which_opens_nothing_else() {
    let app = FeedApp::spawn().await;
    for (scopes, status) in [
        (&[Scope::QueriesRead][..], 403),
        (&[Scope::CommandsWrite][..], 403),
        (&[Scope::EventsRead][..], 200),
        (&[Scope::Admin][..], 200),
        (&[Scope::QueriesRead, Scope::EventsRead][..], 200),
    ] {
        let response = stockflow_testkit::send(client(scopes).get(app.url("/v1/events"))).await;
        assert_eq!(response.status, status, "{scopes:?}: {}", response.text);
        if status == 403 {
            response.assert_problem(403, "forbidden");
            assert!(response.text.contains("events:read"), "{}", response.text);
        }
    }
    let anonymous =
        stockflow_testkit::send(reqwest::Client::new().get(app.url("/v1/events"))).await;
    anonymous.assert_problem(401, "unauthorized");
    let elsewhere = app.get("/v1/products").await;
    elsewhere.assert_problem(403, "forbidden");
    assert!(
        elsewhere.text.contains("queries:read"),
        "{}",
        elsewhere.text
    );
}
