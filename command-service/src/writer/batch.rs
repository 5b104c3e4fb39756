//! One attempt at a batch: plan its idempotency keys, load what its decisions read, decide
//! each command on the state the earlier ones left, append everything in one transaction, and
//! render each command's reply once the positions are known.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use stockflow_domain::{Command, decide, streams_needed};
use stockflow_event_store::{
    AppendBatch, AppendError, IdempotencyRecord, NewEvent, StoredIdempotency, StreamWrite,
};
use uuid::Uuid;

use super::idempotency::{self, Plan};
use super::state::{RestoreError, SNAPSHOT_SCHEMA, Versioned, View};
use super::{Precondition, Submission, Writer};
use crate::replies::{self, Refusal, Reply};

/// A decided command's reply before positions are known.
struct Draft {
    /// The HTTP status code of the outcome.
    status: u16,
    /// The body, with `position` still unset for successes.
    template: Value,
    /// 1-based ordinal of its last event among the batch's events.
    last_event: Option<usize>,
    /// The streams it was decided on. The append's expected versions guard those the batch
    /// writes; the others (all of a refusal's; a receipt's order that turned out absent) are
    /// checked before anything is sent when they came from the cache, since another process
    /// may have moved them.
    read: Vec<String>,
}

pub(super) enum AttemptError {
    Conflict,
    Database(String),
}

impl From<sqlx::Error> for AttemptError {
    fn from(e: sqlx::Error) -> AttemptError {
        AttemptError::Database(e.to_string())
    }
}

impl From<RestoreError> for AttemptError {
    fn from(e: RestoreError) -> AttemptError {
        AttemptError::Database(e.to_string())
    }
}

impl Writer {
    pub(super) async fn attempt(
        &mut self,
        batch: &[Submission],
    ) -> Result<Vec<Result<Reply, Refusal>>, AttemptError> {
        let plans = self.plan_idempotency(batch).await?;

        // Load what the decisions will read, in one query for the common case.
        let mut loaded: HashMap<String, Versioned> = HashMap::new();
        let changed_none = HashMap::new();
        let wanted: Vec<String> = batch
            .iter()
            .zip(&plans)
            .filter(|(_, plan)| matches!(plan, Plan::Decide))
            .flat_map(|(s, _)| {
                streams_needed(
                    &s.command,
                    &View {
                        changed: &changed_none,
                        loaded: &loaded,
                    },
                )
            })
            .collect();
        let mut cached = HashSet::new();
        self.cache
            .load(&self.store, wanted, &mut loaded, &mut cached)
            .await?;

        let mut changed: HashMap<String, Versioned> = HashMap::new();
        let mut events: Vec<NewEvent> = Vec::new();
        let mut drafts: Vec<Option<Draft>> = Vec::with_capacity(batch.len());
        for (submission, plan) in batch.iter().zip(&plans) {
            if !matches!(plan, Plan::Decide) {
                drafts.push(None);
                continue;
            }
            // Some streams are only known once others are loaded (a receipt reaches the
            // orders of its backorders): load until nothing new is named.
            loop {
                let view = View {
                    changed: &changed,
                    loaded: &loaded,
                };
                let missing: Vec<String> = streams_needed(&submission.command, &view)
                    .into_iter()
                    .filter(|s| view.get(s).is_none())
                    .collect();
                if missing.is_empty() {
                    break;
                }
                self.cache
                    .load(&self.store, missing, &mut loaded, &mut cached)
                    .await?;
            }
            drafts.push(Some(self.decide_one(
                submission,
                &mut changed,
                &loaded,
                &mut events,
            )));
        }

        self.check_reads(&drafts, &changed, &loaded, &cached)
            .await?;

        let mut append = AppendBatch {
            events,
            ..AppendBatch::default()
        };
        let mut streams: Vec<&String> = changed.keys().collect();
        streams.sort(); // a fixed lock order across writers
        for stream in streams {
            let after = &changed[stream];
            append.streams.push(StreamWrite {
                stream_id: stream.clone(),
                expected_version: loaded.get(stream).map_or(0, |v| v.version),
                new_version: after.version,
                snapshot: after.snapshot(),
                snapshot_schema: SNAPSHOT_SCHEMA,
            });
        }
        for (submission, draft) in batch.iter().zip(&drafts) {
            if let (Some(key), Some(draft)) = (&submission.idempotency, draft) {
                append.idempotency.push(IdempotencyRecord {
                    key: key.key.clone(),
                    request_hash: key.request_hash.clone(),
                    status: i16::try_from(draft.status).unwrap_or(500),
                    body: draft.template.to_string(),
                    last_event_ordinal: draft.last_event.and_then(|n| i32::try_from(n).ok()),
                });
            }
        }

        metrics::histogram!(crate::metrics::APPEND_BATCH_EVENTS).record(append.events.len() as f64);
        let first_position = if append.events.is_empty() && append.idempotency.is_empty() {
            0
        } else {
            let appending = std::time::Instant::now();
            let appended = self.store.append(&append).await;
            metrics::histogram!(crate::metrics::APPEND_DURATION)
                .record(appending.elapsed().as_secs_f64());
            let outcome = match appended {
                Ok(last) => Ok(last - append.events.len() as i64),
                // The connection may have failed after the commit: look before answering, so
                // a committed command is not reported as failed (and retried twice over).
                Err(AppendError::Database(e)) => match self.landed(&append).await {
                    Some(first_position) => Ok(first_position),
                    None => Err(AttemptError::Database(e.to_string())),
                },
                Err(AppendError::VersionConflict | AppendError::IdempotencyConflict) => {
                    Err(AttemptError::Conflict)
                }
            };
            match outcome {
                Ok(first_position) => first_position,
                Err(e) => {
                    for stream in loaded.keys() {
                        self.cache.forget(stream);
                    }
                    return Err(e);
                }
            }
        };

        for (stream, state) in loaded.into_iter().chain(changed) {
            self.cache.keep(stream, state);
        }

        // Replies of the commands decided here, or answered before deciding; a command that
        // shared its key with an earlier one gets that one's reply, once it exists.
        let mut replies: Vec<Option<Result<Reply, Refusal>>> = Vec::with_capacity(batch.len());
        let mut followers = Vec::new();
        for (i, (plan, draft)) in plans.into_iter().zip(drafts).enumerate() {
            let reply = match (plan, draft) {
                (Plan::Answered(answer), _) => Some(answer),
                (Plan::Decide, Some(draft)) => {
                    let position = draft.last_event.map(|n| first_position + n as i64);
                    let body = replies::render(&draft.template, position);
                    Some(Ok(Reply {
                        status: draft.status,
                        body,
                        replayed: false,
                    }))
                }
                (Plan::SameKeyAs(first), _) => {
                    followers.push((i, first));
                    None
                }
                (Plan::Decide, None) => None,
            };
            replies.push(reply);
        }
        for (i, first) in followers {
            let same_request = batch[first].idempotency.as_ref().map(|k| &k.request_hash)
                == batch[i].idempotency.as_ref().map(|k| &k.request_hash);
            replies[i] = Some(idempotency::follow(replies[first].as_ref(), same_request));
        }
        Ok(replies
            .into_iter()
            .map(|r| r.unwrap_or(Err(Refusal::ConcurrencyConflict)))
            .collect())
    }

    /// Looks up the batch's idempotency keys and plans each command's answer.
    async fn plan_idempotency(&self, batch: &[Submission]) -> Result<Vec<Plan>, AttemptError> {
        let keys: Vec<String> = batch
            .iter()
            .filter_map(|s| s.idempotency.as_ref().map(|k| k.key.clone()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let stored: HashMap<String, StoredIdempotency> = if keys.is_empty() {
            HashMap::new()
        } else {
            self.store
                .idempotency_records(&keys)
                .await?
                .into_iter()
                .map(|r| (r.key.clone(), r))
                .collect()
        };
        let keys: Vec<_> = batch.iter().map(|s| s.idempotency.as_ref()).collect();
        Ok(idempotency::plan(&keys, &stored))
    }

    /// Decides one command on the batch's current view, recording its events and changes.
    fn decide_one(
        &self,
        submission: &Submission,
        changed: &mut HashMap<String, Versioned>,
        loaded: &HashMap<String, Versioned>,
        events: &mut Vec<NewEvent>,
    ) -> Draft {
        let target = submission.command.target_stream();
        let view = View { changed, loaded };
        let mut read = streams_needed(&submission.command, &view);
        read.push(target.clone());
        let refused = |refusal: Refusal| Draft {
            status: refusal.status().as_u16(),
            template: serde_json::to_value(refusal.problem()).unwrap_or(Value::Null),
            last_event: None,
            read: read.clone(),
        };
        let current = view.version(&target);
        // A command that creates its aggregate targets version 0; for the others a missing
        // aggregate is a 404, which `decide` reports.
        let creates = matches!(
            submission.command,
            Command::RegisterProduct(_) | Command::PlaceOrder(_)
        );
        match submission.precondition {
            Some(Precondition::Version(expected))
                if (current > 0 || creates) && expected != current =>
            {
                return refused(Refusal::VersionMismatch { expected, current });
            }
            Some(Precondition::Exists) if current == 0 && creates => {
                return refused(Refusal::NothingToMatch);
            }
            _ => {}
        }
        let changes = match decide(&submission.command, &view) {
            Ok(changes) => changes,
            Err(refusal) => return refused(Refusal::Domain(refusal)),
        };
        let metadata = serde_json::to_value(&submission.metadata).unwrap_or(Value::Null);
        for change in &changes {
            let entry = changed.entry(change.stream.clone()).or_insert_with(|| {
                loaded
                    .get(&change.stream)
                    .cloned()
                    .unwrap_or(Versioned::ABSENT)
            });
            entry.apply(&change.stream, &change.event);
            events.push(NewEvent {
                event_id: Uuid::now_v7(),
                stream_id: change.stream.clone(),
                stream_version: entry.version,
                event_type: change.event.event_type(),
                type_version: i32::try_from(change.event.version()).unwrap_or(1),
                data: change.event.data(),
                metadata: metadata.clone(),
            });
        }
        let view = View { changed, loaded };
        let version = view.version(&target);
        let (status, template) = replies::success(&submission.command, &changes, &view, version);
        Draft {
            status,
            template,
            last_event: Some(events.len()),
            read,
        }
    }

    /// Makes sure no decision rests on stale cached state that the append would not catch:
    /// the streams the commands were decided on that came from the cache and that this batch
    /// does not write (the append checks those) must still be at the cached version. Such
    /// streams are every stream a refusal read, and for a success one it read but left alone:
    /// an order cached as absent (a cancel refused before another instance's placement was
    /// visible) would have a receipt fill the product's backorder without the order's line.
    /// If one moved, it is dropped from the cache and the batch is decided again.
    async fn check_reads(
        &mut self,
        drafts: &[Option<Draft>],
        changed: &HashMap<String, Versioned>,
        loaded: &HashMap<String, Versioned>,
        cached: &HashSet<String>,
    ) -> Result<(), AttemptError> {
        let mut suspects: Vec<String> = drafts
            .iter()
            .flatten()
            .flat_map(|d| &d.read)
            .filter(|s| cached.contains(*s) && !changed.contains_key(*s))
            .cloned()
            .collect();
        if suspects.is_empty() {
            return Ok(());
        }
        suspects.sort();
        suspects.dedup();
        let current: HashMap<String, i64> = self
            .store
            .stream_versions(&suspects)
            .await?
            .into_iter()
            .collect();
        let mut stale = false;
        for stream in &suspects {
            let now = current.get(stream).copied().unwrap_or(0);
            if loaded.get(stream).map_or(0, |v| v.version) != now {
                self.cache.forget(stream);
                stale = true;
            }
        }
        if stale {
            Err(AttemptError::Conflict)
        } else {
            Ok(())
        }
    }

    /// After a failed append: whether it committed all the same (the connection dropped after
    /// the commit), and if so the position before its first event.
    async fn landed(&self, append: &AppendBatch) -> Option<i64> {
        let first = append.events.first()?;
        let lookup = self
            .store
            .position_of(&first.stream_id, first.stream_version, first.event_id);
        match tokio::time::timeout(std::time::Duration::from_secs(2), lookup).await {
            Ok(Ok(Some(position))) => {
                tracing::warn!(position, "an append reported failure but had committed");
                Some(position - 1)
            }
            _ => None,
        }
    }
}
