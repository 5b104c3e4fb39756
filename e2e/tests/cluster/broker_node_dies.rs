//! A RabbitMQ node killed (`kill -9`) under load, the one the projector is connected to: the
//! relay and the projector reconnect to the nodes left, the projector's quorum queue keeps
//! its messages on them, and every acknowledged order reaches the read models.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stockflow_e2e::{Options, Stack};

use crate::checks::assert_read_models_match_the_store;
use crate::cluster::Cluster;
use crate::load::Load;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rabbitmq_node_dying_under_load_loses_no_acknowledged_order() {
    let cluster = Cluster::take().await;
    let database = stockflow_testkit::unique("stockflow_cluster_");
    let stack = Arc::new(
        Stack::on(
            Options::default(),
            &cluster.database_url(&database),
            &cluster.amqp_url(),
        )
        .await,
    );
    let load = Load::start(stack.clone(), 3).await;
    let started = Instant::now();
    load.wait_for_acks_after(started, 20, Duration::from_secs(30))
        .await;
    stack
        .wait_for_projection(load.latest_position(), Duration::from_secs(60))
        .await;

    let connection = format!("stockflow-projector {}", stack.queue);
    let found = cluster.node_of(&connection).await;
    // Node 1 when RabbitMQ cannot say (rabbitmqctl needs root or the rabbitmq user).
    let node = found.unwrap_or(1).to_string();
    let killed_at = Instant::now();
    cluster.run(&["kill-rabbit", &node]).await;
    // Orders acknowledged after the kill reach the read models: through the nodes left.
    load.wait_for_acks_after(killed_at, 20, Duration::from_secs(60))
        .await;
    stack
        .wait_for_projection(load.latest_position(), Duration::from_secs(90))
        .await;
    let projected_again = killed_at.elapsed();
    cluster.run(&["start-rabbit", &node]).await;
    let restarted = killed_at.elapsed();
    let back_at = Instant::now();
    load.wait_for_acks_after(back_at, 20, Duration::from_secs(60))
        .await;
    let record = load.stop().await;

    let head = stack.head().await;
    stack
        .wait_for_projection(head, Duration::from_secs(90))
        .await;
    crate::assert_acknowledged_orders_are_stored(&record.acks, &stack.events().await);
    assert_read_models_match_the_store(&stack).await;
    eprintln!(
        "RabbitMQ node {node} (the projector's, {}) killed under load: longest stretch without \
         an acknowledged command {:?} ({} of {} commands failed); orders acknowledged after \
         the kill were in the read models {:?} after it; the node was back {:?} after it; \
         {} orders, all projected",
        if found.is_some() {
            "as RabbitMQ listed it"
        } else {
            "assumed"
        },
        record.longest_gap_after(killed_at),
        record.failures,
        record.acks.len() + record.failures,
        projected_again,
        restarted,
        record.acks.len(),
    );
}
