//! stockflow on real clusters (scripts/cluster, docs/cluster.md): the services given every
//! RabbitMQ node and both PostgreSQL servers as lists, orders placed without pause while a
//! node dies or the replica is promoted; no acknowledged command may be lost, and the read
//! models end equal to the store. Each test takes the cluster for itself (a lock file), so
//! they run one after the other; the last one takes it down. How long each failover cost
//! is printed (`--no-capture` shows it).

mod broker_node_dies;
mod cluster;
mod load;
mod primary_promoted;
mod replica_reads;

// The pipeline suite's comparison of every read model with the store, shared as it is.
#[path = "../pipeline/checks.rs"]
mod checks;

/// Asserts that every acknowledged order was committed as acknowledged: the store holds the
/// order's stream, written by a transaction that includes the position the command service
/// answered with (several commands may share a transaction).
pub fn assert_acknowledged_orders_are_stored(
    acks: &[load::Ack],
    events: &[stockflow_event_store::StoredEvent],
) {
    let placed: std::collections::HashMap<&str, (i64, i64)> = events
        .iter()
        .filter(|event| event.stream_version == 1)
        .map(|event| {
            (
                event.stream_id.as_str(),
                (event.position, event.commit_position),
            )
        })
        .collect();
    let lost: Vec<&load::Ack> = acks
        .iter()
        .filter(|ack| {
            placed
                .get(format!("order-{}", ack.order_id).as_str())
                .is_none_or(|(first, commit)| !(first..=commit).contains(&&ack.position))
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged orders are not in the store as acknowledged, first {:?}",
        lost.len(),
        acks.len(),
        lost.first()
    );
}
