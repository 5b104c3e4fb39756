//! How far the query service's server is behind its primary, when it is a streaming replica:
//! sampled every second into `stockflow_replica_replay_lag_seconds` and `_bytes`. Both are 0 on
//! a primary, and on a replica that has replayed all it received. A `min_position` wait on a
//! replica lasts at least this long (docs/operations.md, "Reading from a replica").

use std::time::Duration;

use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::{REPLICA_LAG_BYTES, REPLICA_LAG_SECONDS};

/// How often the lag is sampled.
const EVERY: Duration = Duration::from_secs(1);

/// How far a server is behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplayLag {
    /// Since the last transaction the replica replayed, while WAL it received waits to be
    /// replayed; 0 when nothing waits.
    pub seconds: f64,
    /// WAL received and not yet replayed.
    pub bytes: f64,
}

impl ReplayLag {
    /// Reads the lag of the server of `pool`.
    pub async fn read(pool: &PgPool) -> Result<ReplayLag, sqlx::Error> {
        // On a primary the WAL functions of a standby answer null: both are 0 there. A
        // replica that has replayed all it received is not behind, however long ago its last
        // transaction was (the primary may simply be idle).
        let row = sqlx::query!(
            r#"SELECT
                 CASE WHEN NOT pg_is_in_recovery()
                        OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
                      ELSE greatest(0, coalesce(
                        EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0))
                 END::float8 AS "seconds!",
                 CASE WHEN pg_is_in_recovery() THEN greatest(0, coalesce(
                        pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0))
                      ELSE 0
                 END::float8 AS "bytes!""#
        )
        .fetch_one(pool)
        .await?;
        Ok(ReplayLag {
            seconds: row.seconds,
            bytes: row.bytes,
        })
    }
}

/// Samples the lag of `pool`'s server every [`EVERY`] until `stop`. A failed sample leaves
/// the gauges as they were; a run of failures is logged once.
pub fn start(pool: PgPool, stop: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(EVERY);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = timer.tick() => {}
            }
            match ReplayLag::read(&pool).await {
                Ok(lag) => {
                    failing = false;
                    metrics::gauge!(REPLICA_LAG_SECONDS).set(lag.seconds);
                    metrics::gauge!(REPLICA_LAG_BYTES).set(lag.bytes);
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "cannot read the database server's replay lag");
                    }
                    failing = true;
                }
            }
        }
    })
}
