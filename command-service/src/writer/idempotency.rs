//! Idempotency keys in a batch: a key with a stored outcome gets it again (or a refusal when
//! the request differs), a key used twice in one batch waits for its first use, and the rest
//! are decided. Pure: the stored outcomes are looked up by the caller.

use std::collections::HashMap;

use stockflow_event_store::StoredIdempotency;

use crate::replies::{self, Refusal, Reply};

/// What a retry must match to get the stored outcome back.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: Vec<u8>,
}

#[derive(Debug)]
pub(super) enum Plan {
    /// Already answered: a stored outcome, or a refused retry.
    Answered(Result<Reply, Refusal>),
    /// Shares its key with the batch's command at this index, decided first.
    SameKeyAs(usize),
    Decide,
}

/// The plan for each command of a batch, given each one's key and the outcomes stored under
/// those keys.
pub(super) fn plan(
    keys: &[Option<&Idempotency>],
    stored: &HashMap<String, StoredIdempotency>,
) -> Vec<Plan> {
    let mut first_use: HashMap<&str, usize> = HashMap::new();
    keys.iter()
        .enumerate()
        .map(|(i, key)| {
            let Some(key) = key else {
                return Plan::Decide;
            };
            if let Some(record) = stored.get(&key.key) {
                if record.request_hash == key.request_hash {
                    Plan::Answered(Ok(replies::replay(record)))
                } else {
                    Plan::Answered(Err(Refusal::IdempotencyKeyReused))
                }
            } else if let Some(first) = first_use.get(key.key.as_str()) {
                Plan::SameKeyAs(*first)
            } else {
                first_use.insert(&key.key, i);
                Plan::Decide
            }
        })
        .collect()
}

/// The answer of a command that shared its key with an earlier one of its batch: that one's
/// success, replayed, if the requests are the same.
pub(super) fn follow(
    first: Option<&Result<Reply, Refusal>>,
    same_request: bool,
) -> Result<Reply, Refusal> {
    match first {
        _ if !same_request => Err(Refusal::IdempotencyKeyReused),
        Some(Ok(reply)) => Ok(Reply {
            replayed: true,
            ..reply.clone()
        }),
        _ => Err(Refusal::ConcurrencyConflict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: &str, hash: u8) -> Idempotency {
        Idempotency {
            key: key.into(),
            request_hash: vec![hash],
        }
    }

    fn stored(key: &str, hash: u8) -> (String, StoredIdempotency) {
        (
            key.into(),
            StoredIdempotency {
                key: key.into(),
                request_hash: vec![hash],
                status: 201,
                body: r#"{"sku":"A-1","version":1,"position":0}"#.into(),
                position: Some(7),
            },
        )
    }

    #[test]
    fn a_stored_outcome_is_replayed_to_the_same_request_and_refused_to_another() {
        let (same, other, fresh) = (key("k1", 1), key("k1", 2), key("k2", 1));
        let stored = HashMap::from([stored("k1", 1)]);
        let plans = plan(&[Some(&same), Some(&other), Some(&fresh), None], &stored);
        match &plans[0] {
            Plan::Answered(Ok(reply)) => {
                assert_eq!(reply.status, 201);
                assert_eq!(reply.body, r#"{"sku":"A-1","version":1,"position":7}"#);
                assert!(reply.replayed);
            }
            other => panic!("expected the stored outcome, got {other:?}"),
        }
        assert!(matches!(
            plans[1],
            Plan::Answered(Err(Refusal::IdempotencyKeyReused))
        ));
        assert!(matches!(plans[2], Plan::Decide));
        assert!(matches!(plans[3], Plan::Decide));
    }

    #[test]
    fn a_key_used_twice_in_a_batch_waits_for_its_first_use() {
        let (a, b) = (key("k", 1), key("k", 1));
        let plans = plan(&[None, Some(&a), Some(&b)], &HashMap::new());
        assert!(matches!(plans[1], Plan::Decide));
        assert!(matches!(plans[2], Plan::SameKeyAs(1)));

        let first = Ok(Reply {
            status: 201,
            body: "{}".into(),
            replayed: false,
        });
        let replayed = follow(Some(&first), true).expect("the same request is replayed");
        assert!(replayed.replayed);
        assert!(matches!(
            follow(Some(&first), false),
            Err(Refusal::IdempotencyKeyReused)
        ));
        assert!(matches!(
            follow(Some(&Err(Refusal::NothingToMatch)), true),
            Err(Refusal::ConcurrencyConflict)
        ));
    }
}
