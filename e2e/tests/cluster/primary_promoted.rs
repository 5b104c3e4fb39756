//! The PostgreSQL primary stopped and its synchronous replica promoted under load
//! (`scripts/cluster promote`): every service's pool finds the new primary by itself, the
//! relay's and the query service's listeners follow, and every order acknowledged before or
//! after is in the new primary's store, then in the read models.

use std::sync::Arc;
use std::time::{Duration, Instant};

use stockflow_e2e::{Options, Stack};

use crate::checks::assert_read_models_match_the_store;
use crate::cluster::Cluster;
use crate::load::Load;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promoted_replica_is_followed_and_no_acknowledged_order_is_lost() {
    let cluster = Cluster::take().await;
    let database = stockflow_testkit::unique("stockflow_cluster_");
    let database_url = cluster.database_url(&database);
    let stack = Arc::new(Stack::on(Options::default(), &database_url, &cluster.amqp_url()).await);
    let load = Load::start(stack.clone(), 3).await;
    let started = Instant::now();
    load.wait_for_acks_after(started, 20, Duration::from_secs(30))
        .await;
    stack
        .wait_for_projection(load.latest_position(), Duration::from_secs(60))
        .await;

    let promoted_at = Instant::now();
    cluster.run(&["promote"]).await;
    let promoted = promoted_at.elapsed();
    load.wait_for_acks_after(promoted_at, 20, Duration::from_secs(60))
        .await;
    let record = load.stop().await;
    let gap = record.longest_gap_after(promoted_at);

    // The store is now the replica's, the second address.
    let primary = stockflow_event_store::database::primary_options(&database_url)
        .await
        .expect("a primary");
    let replica = stockflow_event_store::database::addresses(&database_url)[1];
    assert!(
        replica.contains(&format!(":{}/", primary.get_port())),
        "the primary is still on port {}",
        primary.get_port()
    );
    crate::assert_acknowledged_orders_are_stored(&record.acks, &stack.events().await);
    let head = stack.head().await;
    stack
        .wait_for_projection(head, Duration::from_secs(90))
        .await;
    assert_read_models_match_the_store(&stack).await;
    eprintln!(
        "PostgreSQL primary stopped and replica promoted under load ({promoted:?} for \
         scripts/cluster promote): longest stretch without an acknowledged command {gap:?} \
         ({} of {} commands failed); {} orders acknowledged, all in the new primary's store \
         and projected",
        record.failures,
        record.acks.len() + record.failures,
        record.acks.len(),
    );
}
