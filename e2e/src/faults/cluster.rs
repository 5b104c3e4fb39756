//! The faults of a cluster run, injected through the verbs of `scripts/cluster`: the RabbitMQ
//! node that leads the projector's queue killed, a node's broker app stopped for a while, the
//! PostgreSQL replica crashed, the primary lost and the replica promoted.

use std::time::Duration;

use super::inject::Fault;
use super::options::Topology;
use super::services::{self, BoxError};
use super::system::System;

/// How long the replica stays down when it is crashed.
const REPLICA_DOWN: Duration = Duration::from_secs(5);
/// How long a killed node stays down before it is started again.
const NODE_DOWN: Duration = Duration::from_secs(3);

impl System {
    /// Injects one of the cluster's faults; returns what was done.
    pub(super) async fn break_cluster(
        &mut self,
        fault: Fault,
        i: usize,
    ) -> Result<String, BoxError> {
        let topology = self
            .options
            .cluster
            .clone()
            .ok_or("a cluster fault needs a cluster run (--cluster)")?;
        let nodes = topology.amqp_urls.len();
        Ok(match fault {
            Fault::KillQueueLeader => {
                let leader = queue_leader(nodes, &self.names.queue).await?;
                verb(&topology, &["kill-rabbit", &leader.to_string()]).await?;
                tokio::time::sleep(NODE_DOWN).await;
                verb(&topology, &["start-rabbit", &leader.to_string()]).await?;
                format!(
                    "kill -9 node {leader} (the queue's leader), {} s, started again",
                    NODE_DOWN.as_secs()
                )
            }
            Fault::BrokerNodeAppStopped => {
                let node = (i % nodes + 1).to_string();
                verb(&topology, &["stop-app", &node]).await?;
                tokio::time::sleep(self.options.broker_down).await;
                verb(&topology, &["start-app", &node]).await?;
                format!(
                    "node {node}: stop_app, {} s, start_app",
                    self.options.broker_down.as_secs()
                )
            }
            Fault::ReplicaKilled => {
                verb(&topology, &["kill-replica"]).await?;
                tokio::time::sleep(REPLICA_DOWN).await;
                verb(&topology, &["start-replica"]).await?;
                format!(
                    "replica stopped -m immediate, {} s, started again (synchronous: commits wait meanwhile)",
                    REPLICA_DOWN.as_secs()
                )
            }
            Fault::PrimaryPromoted => {
                verb(&topology, &["promote"]).await?;
                "primary stopped, replica promoted".into()
            }
            other => return Err(format!("{other:?} is not a cluster fault").into()),
        })
    }
}

/// Runs `scripts/cluster <args>`.
async fn verb(topology: &Topology, args: &[&str]) -> Result<String, BoxError> {
    let script = topology.script.to_string_lossy().into_owned();
    services::admin(&script, args).await
}

/// The node (1 to `nodes`) that leads `queue`, asked of the first node that answers. The
/// nodes are those of `scripts/cluster`: `stockflow-c<N>@localhost`.
async fn queue_leader(nodes: usize, queue: &str) -> Result<usize, BoxError> {
    let mut last = String::new();
    for n in 1..=nodes {
        let node = format!("stockflow-c{n}@localhost");
        let listed = services::admin(
            "rabbitmqctl",
            &[
                "-n",
                &node,
                "-q",
                "list_queues",
                "name",
                "leader",
                "--formatter",
                "json",
            ],
        )
        .await;
        match listed {
            Ok(json) => match leader_in(&json, queue) {
                Some(leader) => return Ok(leader),
                None => last = format!("{node} does not list {queue} with a leader: {json}"),
            },
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("no node named the leader of {queue}: {last}").into())
}

/// The leader's node number in `rabbitmqctl list_queues name leader --formatter json`.
fn leader_in(json: &str, queue: &str) -> Option<usize> {
    let listed: serde_json::Value = serde_json::from_str(json).ok()?;
    let leader = listed.as_array()?.iter().find(|q| q["name"] == queue)?["leader"]
        .as_str()?
        .to_owned();
    leader
        .strip_prefix("stockflow-c")?
        .split('@')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_read_from_the_listing() {
        let json = r#"[{"name":"other","leader":"stockflow-c1@localhost"},
                       {"name":"q.projector","leader":"stockflow-c3@localhost"}]"#;
        assert_eq!(leader_in(json, "q.projector"), Some(3));
        assert_eq!(leader_in(json, "missing"), None);
        assert_eq!(leader_in("not json", "q.projector"), None);
    }
}
