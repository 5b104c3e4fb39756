//! The faults, one kind at a time: what injecting each does to the running system.

use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;
use stockflow_event_store::StoredEvent;
use tokio::time::Instant;
use uuid::Uuid;

use super::services::{self, BoxError};
use super::system::System;

/// A kind of fault; the report names each in snake case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    KillCommandService,
    KillProjector,
    BrokerStopped,
    PostgresRestarted,
    RelayConnectionClosed,
    DuplicatedOutOfOrder,
    PoisonMessages,
    SlowLink,
    LinkReset,
    /// On a cluster: kill -9 the RabbitMQ node that leads the projector's quorum queue.
    KillQueueLeader,
    /// On a cluster: one node's broker app stopped for a while, then started.
    BrokerNodeAppStopped,
    /// On a cluster: the PostgreSQL replica crashed, then started again.
    ReplicaKilled,
    /// On a cluster: the primary stopped and the (synchronous) replica promoted.
    PrimaryPromoted,
}

impl Fault {
    /// Every kind for the machine's own servers, in the order a round lists them.
    pub(super) const ALL: [Fault; 9] = [
        Fault::KillCommandService,
        Fault::KillProjector,
        Fault::BrokerStopped,
        Fault::PostgresRestarted,
        Fault::RelayConnectionClosed,
        Fault::DuplicatedOutOfOrder,
        Fault::PoisonMessages,
        Fault::SlowLink,
        Fault::LinkReset,
    ];

    /// The kinds a round injects on a cluster. The promotion is not among them: it leaves no
    /// replica, so it comes once, after every round.
    pub(super) const CLUSTER: [Fault; 5] = [
        Fault::KillCommandService,
        Fault::KillProjector,
        Fault::KillQueueLeader,
        Fault::BrokerNodeAppStopped,
        Fault::ReplicaKilled,
    ];
}

impl System {
    /// Injects one fault; `i` numbers it in the run. Returns what was done.
    pub(super) async fn inject(&mut self, fault: Fault, i: usize) -> Result<String, BoxError> {
        Ok(match fault {
            Fault::KillCommandService => {
                let n = self.commands.len();
                let service = &mut self.commands[i % n];
                service.kill9().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                service.start().await?;
                format!("SIGKILL, restarted (instance {} of {n})", i % n + 1)
            }
            Fault::KillProjector => {
                let n = self.projectors.len();
                let service = &mut self.projectors[i % n];
                service.kill9().await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                service.start().await?;
                format!("SIGKILL, restarted (instance {} of {n})", i % n + 1)
            }
            Fault::KillQueueLeader
            | Fault::BrokerNodeAppStopped
            | Fault::ReplicaKilled
            | Fault::PrimaryPromoted => self.break_cluster(fault, i).await?,
            Fault::BrokerStopped => {
                services::stop_broker_for(self.options.broker_down).await?;
                format!(
                    "rabbitmqctl stop_app, {} s, start_app",
                    self.options.broker_down.as_secs()
                )
            }
            Fault::PostgresRestarted => {
                services::restart_postgres().await?;
                "pg_ctlcluster restart -m fast".into()
            }
            Fault::RelayConnectionClosed => {
                let name = format!("stockflow-relay {}", self.names.exchange);
                let deadline = Instant::now() + Duration::from_secs(20);
                loop {
                    let closed = services::close_broker_connections(&name).await?;
                    if closed > 0 {
                        break format!("{closed} connection closed by the broker");
                    }
                    if Instant::now() > deadline {
                        return Err("the relay had no broker connection for 20 s".into());
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            Fault::DuplicatedOutOfOrder => {
                let n = self.republish_shuffled(i as u64).await?;
                format!("{n} stored events published again, twice each, shuffled")
            }
            Fault::PoisonMessages => {
                let n = self.publish_poison(i).await?;
                format!("{n} poison messages on the projector's queue")
            }
            Fault::SlowLink => {
                let (name, proxy) = &self.proxies[i % self.proxies.len()];
                proxy.set_delay(Duration::from_millis(250));
                tokio::time::sleep(Duration::from_secs(6)).await;
                proxy.set_delay(Duration::ZERO);
                format!("{name}: 250 ms a chunk for 6 s")
            }
            Fault::LinkReset => {
                let (name, proxy) = &self.proxies[i % self.proxies.len()];
                proxy.reset(Duration::from_secs(2));
                format!("{name}: every connection reset, new ones refused for 2 s")
            }
        })
    }

    /// Up to 40 recent events, each published twice, in a shuffled order.
    async fn republish_shuffled(&self, seed: u64) -> Result<usize, BoxError> {
        let events = self.events().await?;
        let mut chosen: Vec<&StoredEvent> = events.iter().rev().take(40).collect();
        chosen.extend(chosen.clone());
        chosen.shuffle(&mut StdRng::seed_from_u64(seed));
        let (connection, channel) = self.publisher().await?;
        for event in &chosen {
            let body = serde_json::to_vec(&event.to_cloud_event())?;
            channel
                .basic_publish(
                    self.names.exchange.as_str().into(),
                    event.event_type.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_message_id(event.event_id.to_string().into())
                        .with_content_type("application/cloudevents+json".into()),
                )
                .await?
                .await?;
        }
        let _ = connection.close(200, "done".into()).await;
        Ok(chosen.len() / 2)
    }

    /// Messages no projector can read, straight onto its queue.
    async fn publish_poison(&mut self, i: usize) -> Result<usize, BoxError> {
        let marker = Uuid::now_v7();
        let bodies: Vec<Vec<u8>> = vec![
            format!("not json at all {marker}").into_bytes(),
            format!(r#"{{"specversion":"1.0","id":"{marker}","type":"com.stockflow.order.exploded.v1","position":{i}}}"#)
                .into_bytes(),
            format!(r#"{{"id":"{marker}","data":{{"truncated"#).into_bytes(),
        ];
        let (connection, channel) = self.publisher().await?;
        for body in &bodies {
            channel
                .basic_publish(
                    "".into(),
                    self.names.queue.as_str().into(),
                    BasicPublishOptions::default(),
                    body,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?
                .await?;
        }
        let _ = connection.close(200, "done".into()).await;
        let n = bodies.len();
        self.poison.extend(bodies);
        Ok(n)
    }
}
