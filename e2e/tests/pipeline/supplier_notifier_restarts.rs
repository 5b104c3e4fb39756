//! The supplier notifier (examples/supplier-notifier) while stockflow's own services fail
//! under it: the query service it catches up from is cut off and then stopped in the middle
//! of a catch-up several pages long, and the command service whose relay feeds its queue
//! loses its broker connection and is restarted while the notifier follows live. Commands
//! keep flowing throughout. The supplier must still hear of every replenishment the store
//! holds exactly once, in order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use stockflow_e2e::faults::proxy::FaultProxy;
use stockflow_e2e::{Options, Stack};
use stockflow_edge::{Scope, mint_token};
use stockflow_testkit::Running;
use supplier_notifier::{Config, Feed, Outbox};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Generous: the notifier syncs its outbox to disk once per request, and the box is shared.
const WAIT: Duration = Duration::from_secs(180);
/// Products every order of the history backorders, one replenishment each.
const SKUS: usize = 100;
/// History before the notifier starts: 30 orders of 100 lines is 3000 requests, three full
/// pages of the notifier's feed (1000 a page), so both faults below land mid catch-up.
const HISTORY_ORDERS: usize = 30;

fn sku(i: usize) -> String {
    format!("PART-{:03}", i % SKUS)
}

/// Places an order for one unit of each of `skus` through the command service at `url`
/// (none in stock: each line is a replenishment request) and returns its id.
async fn place_order(stack: &Stack, url: &str, skus: impl Iterator<Item = String>) -> Uuid {
    let lines: Vec<_> = skus.map(|sku| json!({"sku": sku, "quantity": 1})).collect();
    let placed = stockflow_testkit::send(
        stack
            .client
            .post(format!("{url}/v1/orders"))
            .json(&json!({"customer_id": "restarts", "lines": lines})),
    )
    .await;
    placed.ok()["order_id"]
        .as_str()
        .and_then(|id| Uuid::parse_str(id).ok())
        .expect("an order id")
}

/// The requests the store holds, as (position, event id), in position order.
async fn requests_in_store(stack: &Stack) -> Vec<(i64, Uuid)> {
    stack
        .events()
        .await
        .iter()
        .filter(|e| e.event_type == "product.replenishment_requested")
        .map(|e| (e.position, e.event_id))
        .collect()
}

/// Waits until the outbox satisfies `done` (or fails after `WAIT`, saying `what`).
async fn wait_for_outbox(
    path: &Path,
    what: &str,
    done: impl Fn(&[supplier_notifier::Replenishment]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let recorded = Outbox::read_all(path).expect("the outbox reads");
        if done(&recorded) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "after {WAIT:?} the outbox holds {} requests, still not {what}",
            recorded.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A query service on the stack's store, listening on `addr` (port 0: any), so that it can
/// be stopped and started again where the notifier looks for it.
async fn query_service(stack: &Stack, addr: &str) -> Running {
    let config = stockflow_query_service::Config {
        database: stockflow_testkit::database_args(&stack.database_url, true),
        listen_addr: addr.to_owned(),
        web: stockflow_edge::WebConfig {
            request_timeout_ms: 30_000,
            ..stockflow_testkit::web_config()
        },
        ..stockflow_query_service::Config::defaults()
    };
    Running::start(
        stockflow_query_service::App::build(config)
            .await
            .expect("the query service starts"),
    )
}

/// A command service with the stack's only relay, reaching RabbitMQ at `amqp_url`.
async fn relaying_command_service(stack: &Stack, amqp_url: &str) -> Running {
    let mut config = stack.command_config();
    config.relay = true;
    config.broker.url = amqp_url.to_owned();
    Running::start(
        stockflow_command_service::App::build(config)
            .await
            .expect("the command service starts"),
    )
}

/// RabbitMQ's URL, and a proxy to it with the URL that goes through it.
async fn proxied_rabbitmq() -> (FaultProxy, String) {
    let mut url = reqwest::Url::parse(&stockflow_testkit::amqp_url()).expect("an AMQP URL");
    let target: SocketAddr = url.socket_addrs(|| Some(5672)).expect("RabbitMQ resolves")[0];
    let proxy = FaultProxy::start(target).await.expect("a proxy");
    url.set_port(Some(proxy.addr().port())).expect("a port");
    (proxy, url.to_string())
}

/// A point in the notifier's work where the test steps in: when the supplier has been told
/// of `at` requests, the notifier waits (as if the supplier were slow to answer) until the
/// test has done its harm, so the fault lands exactly there rather than where a timer says.
struct Gate {
    at: u64,
    reached: oneshot::Sender<()>,
    resume: std::sync::mpsc::Receiver<()>,
}

/// The test's ends of a gate: wait for `reached`, do the harm, send on `resume`.
fn gate(at: u64) -> (Gate, oneshot::Receiver<()>, std::sync::mpsc::Sender<()>) {
    let (reached, reached_rx) = oneshot::channel();
    let (resume_tx, resume) = std::sync::mpsc::channel();
    (
        Gate {
            at,
            reached,
            resume,
        },
        reached_rx,
        resume_tx,
    )
}

/// Orders of three lines through the stack's command service, one after another, until told
/// to stop: commands keep coming in whatever else is down. Returns how many were placed.
fn keep_ordering(
    stack: Arc<Stack>,
    mut stop: oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let url = stack.command_url("");
        let mut placed = 0;
        loop {
            let skus = (placed * 3..placed * 3 + 3).map(sku);
            tokio::select! {
                _ = place_order(&stack, &url, skus) => placed += 1,
                _ = &mut stop => return placed,
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = &mut stop => return placed,
            }
        }
    })
}

// Several workers: the notifier's callback blocks its worker at a gate while the test and the
// services go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_notifier_passes_each_request_on_once_while_the_query_and_command_services_fail() {
    // The stack's command service takes the commands and relays nothing; the one relay runs
    // in a command service of the test's own, which it cuts off and restarts.
    let stack = Arc::new(
        Stack::with(Options {
            relay: false,
            ..Options::default()
        })
        .await,
    );
    let (rabbitmq, relay_amqp_url) = proxied_rabbitmq().await;
    let mut relay = relaying_command_service(&stack, &relay_amqp_url).await;
    let mut queries = query_service(&stack, "127.0.0.1:0").await;
    let query_addr = queries.addr;
    let feed_link = FaultProxy::start(query_addr).await.expect("a proxy");

    for i in 0..SKUS {
        stack
            .command(
                "/v1/products",
                json!({"sku": sku(i), "name": "Part", "unit_price_cents": 25, "currency": "EUR",
                       "initial_stock": 0, "backorder_policy": "backorder"}),
            )
            .await
            .ok();
    }
    let command_url = stack.command_url("");
    for _ in 0..HISTORY_ORDERS {
        place_order(&stack, &command_url, (0..SKUS).map(sku)).await;
    }

    let queue = format!("{}.restarts-notifier", stack.exchange);
    let outbox = std::env::temp_dir().join(format!("supplier-notifier-{}.jsonl", Uuid::now_v7()));
    let config = Config {
        amqp_url: stockflow_testkit::amqp_url(),
        exchange: stack.exchange.clone(),
        queue: queue.clone(),
        // Kept across the notifier's reconnections, as a real one keeps it.
        auto_delete: false,
        outbox: outbox.clone(),
        feed: Some(Feed {
            url: format!("http://{}", feed_link.addr()),
            token: mint_token(
                stockflow_testkit::TEST_SECRET,
                "supplier-notifier",
                &[Scope::EventsRead],
                Duration::from_secs(600),
            ),
        }),
    };
    // Halfway through the first page, and halfway through the second.
    let (cut_gate, cut_reached, cut_resume) = gate(500);
    let (stop_gate, stop_reached, stop_resume) = gate(1500);
    let mut gates = VecDeque::from([cut_gate, stop_gate]);
    let mut told = 0;
    let notifier = supplier_notifier::start(config, move |_| {
        told += 1;
        if gates.front().is_some_and(|g| g.at == told)
            && let Some(gate) = gates.pop_front()
        {
            let _ = gate.reached.send(());
            tokio::task::block_in_place(|| gate.resume.recv().ok());
        }
    })
    .await
    .expect("the notifier subscribes");
    let (stop_ordering, ordering_stopped) = oneshot::channel();
    let ordering = keep_ordering(stack.clone(), ordering_stopped);

    // The link to the query service is cut (and refused for a while) with the rest of the
    // first page still to be handled: the next page cannot be read.
    cut_reached
        .await
        .expect("the notifier reaches the first gate");
    feed_link.reset(Duration::from_secs(2));
    cut_resume.send(()).expect("the notifier waits");

    // The query service stops with the second page half handled, and stays down while
    // orders come in; then it starts again where it was.
    stop_reached
        .await
        .expect("the notifier reaches the second gate (it resumed after the cut)");
    queries.stop().await;
    stop_resume.send(()).expect("the notifier waits");
    wait_for_outbox(&outbox, "the whole second page", |r| r.len() >= 2000).await;
    for i in 0..3 {
        place_order(&stack, &command_url, (i..i + 2).map(sku)).await;
    }
    // Not an assertion: time for the notifier to find the feed gone a few times.
    tokio::time::sleep(Duration::from_secs(1)).await;
    queries = query_service(&stack, &query_addr.to_string()).await;

    // The rest of the history can only come from the feed: the queue was bound after it.
    let held = requests_in_store(&stack).await;
    let last = held.last().expect("requests in the store").0;
    wait_for_outbox(&outbox, "caught up with the store", |r| {
        r.last().is_some_and(|r| r.position >= last)
    })
    .await;

    // Following live now. The relay loses RabbitMQ mid-stream (it publishes again from its
    // checkpoint: duplicates), then its command service restarts, with orders placed while
    // nothing relays.
    rabbitmq.reset(Duration::from_secs(1));
    for i in 0..3 {
        place_order(&stack, &command_url, (i..i + 2).map(sku)).await;
    }
    relay.stop().await;
    for i in 0..3 {
        place_order(&stack, &command_url, (i..i + 2).map(sku)).await;
    }
    relay = relaying_command_service(&stack, &relay_amqp_url).await;

    stop_ordering.send(()).expect("still ordering");
    let background = ordering.await.expect("the orders went through");
    assert!(background > 0, "orders kept coming during the faults");
    // A last order, through the restarted command service. The relay publishes in position
    // order, so once it is in the outbox, everything before it has reached the notifier.
    let last_order = place_order(&stack, &relay.url(""), (0..2).map(sku)).await;
    wait_for_outbox(&outbox, "the last order's requests", |r| {
        r.iter().filter(|r| r.order_id == last_order).count() == 2
    })
    .await;
    let summary = notifier.stop().await;

    let expected = requests_in_store(&stack).await;
    let recorded: Vec<(i64, Uuid)> = Outbox::read_all(&outbox)
        .expect("the outbox reads")
        .iter()
        .map(|r| (r.position, r.event_id))
        .collect();
    assert_eq!(
        recorded.len(),
        expected.len(),
        "the supplier heard of {} requests; the store holds {}",
        recorded.len(),
        expected.len()
    );
    assert_eq!(
        recorded, expected,
        "every request passed on once, in order, through a cut feed, a stopped query service \
         and a relay cut off and restarted"
    );
    assert_eq!(summary.notified as usize, expected.len());
    assert!(
        summary.caught_up >= (SKUS * HISTORY_ORDERS) as u64,
        "the history came from the feed, after it was cut and restarted: {summary:?}"
    );

    relay.stop().await;
    queries.stop().await;
    stockflow_testkit::delete_queue(&queue).await;
    let _ = std::fs::remove_file(&outbox);
}
