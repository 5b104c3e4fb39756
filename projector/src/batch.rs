//! One live batch: a transaction that takes the operators' word, skips what the read models
//! have, takes what is missing from the store, leaves out what operators skipped, applies the
//! rest, advances the checkpoint and notifies the query services. The consumer applies its
//! deliveries with it; a dead letter's replay applies its one event with it.

use sqlx::{Connection, PgPool};
use stockflow_events::Envelope;

use crate::model::{self, ApplyError, Schema};
use crate::store_reader;

/// Live batches hold this shared; a rebuild's swap holds it exclusively.
pub const SWAP_LOCK: i64 = 0x5f0c_f10e;

/// Most events applied in one transaction, when read from the store.
const STORE_BATCH: i64 = 5_000;

/// One transaction: skip what is already applied, take what is missing from the store, apply,
/// advance the checkpoint, notify the query service. It always ends at the end of an append
/// transaction, so no command is ever half visible. Returns the checkpoint before and after.
pub(crate) async fn apply_batch(pool: &PgPool, received: &[Envelope]) -> Result<Batch, ApplyError> {
    let started = std::time::Instant::now();
    let mut db = pool.acquire().await?;
    let mut tx = db.begin().await?;
    // The read models' statements resolve in the live schema; set with the lock, in its round
    // trip, with the operators' word: the row stays shared until the commit, so a pause
    // waits for this batch and no batch commits after it.
    let status = sqlx::query_scalar!(
        r#"SELECT status AS "status!" FROM ops.projector, LATERAL (
               SELECT pg_advisory_xact_lock_shared($1), set_config('search_path', $2, true)) l
            FOR SHARE OF projector"#,
        SWAP_LOCK,
        Schema::Live.name(),
    )
    .fetch_one(&mut *tx)
    .await?;
    if status != crate::control::Status::Running.as_str() {
        return Ok(Batch::Halted);
    }
    let checkpoint: i64 = sqlx::query_scalar!(
        "SELECT position FROM read.projections WHERE name = 'products' FOR UPDATE"
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut fresh: Vec<&Envelope> = received
        .iter()
        .filter(|e| e.position > checkpoint)
        .collect();
    fresh.sort_by_key(|e| e.position);
    fresh.dedup_by_key(|e| e.position);
    let contiguous = !fresh.is_empty()
        && fresh
            .iter()
            .enumerate()
            .all(|(i, e)| e.position == checkpoint + 1 + i as i64);
    let mut events: Vec<Envelope> = if contiguous {
        fresh.into_iter().cloned().collect()
    } else if received.is_empty() || !fresh.is_empty() {
        // Catching up, or a message skipped ahead: the store has everything before it.
        let up_to = fresh
            .last()
            .map_or(checkpoint + STORE_BATCH, |e| e.position);
        if !received.is_empty() {
            tracing::info!(checkpoint, up_to, "filling a gap from the event store");
        }
        store_reader::read_range(&mut tx, checkpoint, up_to.min(checkpoint + STORE_BATCH)).await?
    } else {
        Vec::new() // all duplicates
    };
    let Some(last) = events.last().map(|e| e.position) else {
        return Ok(Batch::Applied {
            before: checkpoint,
            after: checkpoint,
        });
    };
    // Finish the append transaction the last event belongs to; read the head for the lag
    // metric, and what operators skipped, in the same round trip.
    let ends = sqlx::query!(
        r#"SELECT (SELECT commit_position FROM event_store.events WHERE position = $1)
                      AS "commit_end?",
                  position AS head,
                  ARRAY(SELECT position FROM ops.skipped_events WHERE position > $2)
                      AS "skipped!"
             FROM event_store.head"#,
        last,
        checkpoint,
    )
    .fetch_one(&mut *tx)
    .await?;
    let (commit_end, head) = (ends.commit_end.unwrap_or(last), ends.head);
    if commit_end > last {
        events.extend(store_reader::read_range(&mut tx, last, commit_end).await?);
    }
    let last = events.last().map_or(last, |e| e.position);
    events.retain(|e| !ends.skipped.contains(&e.position));
    model::apply_through(&mut tx, &events, last, true).await?;
    tx.commit().await?;

    for event in &events {
        // The ids tie the projection of an event back to the request that caused it.
        tracing::debug!(
            position = event.position,
            event = %event.event.event_type(),
            correlation_id = ?event.metadata.correlation_id,
            causation_id = ?event.metadata.causation_id,
            traceparent = ?event.metadata.traceparent,
            "projected"
        );
    }
    metrics::histogram!(crate::metrics::BATCH_EVENTS).record(events.len() as f64);
    metrics::gauge!(crate::metrics::POSITION).set(last as f64);
    metrics::gauge!(crate::metrics::LAG_EVENTS).set((head - last).max(0) as f64);
    metrics::histogram!(crate::metrics::BATCH_DURATION).record(started.elapsed());
    if let Some(event) = events.last() {
        let behind = (chrono::Utc::now() - event.recorded_at)
            .num_microseconds()
            .unwrap_or(0);
        let behind = behind.max(0) as f64 / 1e6;
        metrics::gauge!(crate::metrics::LAG_SECONDS).set(behind);
        // From the append's commit to the read models' (the clocks of one host, or close).
        metrics::histogram!(crate::metrics::VISIBLE_AFTER).record(behind);
    }
    Ok(Batch::Applied {
        before: checkpoint,
        after: last,
    })
}

/// What a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Batch {
    /// The checkpoint moved from `before` to `after` (or stayed: nothing was new).
    Applied { before: i64, after: i64 },
    /// Nothing: the projection is paused or stopped.
    Halted,
}
