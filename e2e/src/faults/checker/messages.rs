//! What went through the broker: every stored event delivered to the subscriber, and the
//! poison, and only it, among the dead letters (the store and the dead-letter queue).

use std::collections::BTreeMap;

use stockflow_event_store::StoredEvent;

use super::Findings;
use crate::faults::subscriber::Deliveries;

/// Every event in the store reached the subscriber; nothing else did.
pub fn check_deliveries(events: &[StoredEvent], deliveries: &Deliveries, findings: &mut Findings) {
    let mut in_store = 0;
    for event in events {
        match deliveries.by_id.get(&event.event_id) {
            None => {
                findings.counts.lost += 1;
                findings.note(format!(
                    "event {} ({} at {}) never reached the subscriber",
                    event.event_id, event.event_type, event.position
                ));
            }
            Some(n) => {
                in_store += 1;
                findings.counts.redeliveries += (*n - 1) as usize;
            }
        }
    }
    let strangers = deliveries.by_id.len() - in_store;
    if strangers > 0 || deliveries.unreadable > 0 {
        findings.counts.unexpected += strangers + deliveries.unreadable as usize;
        findings.note(format!(
            "the subscriber received {strangers} events the store does not hold and {} unreadable messages",
            deliveries.unreadable
        ));
    }
}

/// The dead letters hold exactly the poison that was published, each once.
pub fn check_dead_letters(poison: &[Vec<u8>], dead: &[Vec<u8>], findings: &mut Findings) {
    findings.counts.poison_published = poison.len();
    findings.counts.dead_letters = dead.len();
    let mut expected: BTreeMap<&[u8], i64> = BTreeMap::new();
    for body in poison {
        *expected.entry(body).or_default() += 1;
    }
    for body in dead {
        *expected.entry(body).or_default() -= 1;
    }
    for (body, surplus) in expected.into_iter().filter(|(_, n)| *n != 0) {
        findings.counts.dead_letter_mismatches += surplus.unsigned_abs() as usize;
        let what = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        findings.note(if surplus > 0 {
            format!("poison {what:?} is missing from the dead letters")
        } else {
            format!("the dead letters hold {what:?}, which is no poison of the run")
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::super::test_event as event;
    use super::*;

    #[test]
    fn a_missed_delivery_is_lost_a_repeated_one_is_allowed() {
        let c = Uuid::now_v7();
        let events = vec![event(1, "a.b", c, json!({})), event(2, "a.b", c, json!({}))];
        let mut deliveries = Deliveries::default();
        deliveries.by_id.insert(events[0].event_id, 3);
        deliveries.by_id.insert(Uuid::now_v7(), 1);
        let mut findings = Findings::default();
        check_deliveries(&events, &deliveries, &mut findings);
        assert_eq!(findings.counts.lost, 1);
        assert_eq!(findings.counts.unexpected, 1);
        assert_eq!(findings.counts.redeliveries, 2);
    }

    #[test]
    fn the_dead_letter_queue_must_hold_the_poison_exactly() {
        let poison = vec![b"x".to_vec(), b"y".to_vec()];
        let mut findings = Findings::default();
        check_dead_letters(&poison, &[b"y".to_vec(), b"x".to_vec()], &mut findings);
        assert_eq!(findings.counts.dead_letter_mismatches, 0);
        check_dead_letters(&poison, &[b"y".to_vec(), b"z".to_vec()], &mut findings);
        assert_eq!(
            findings.counts.dead_letter_mismatches, 2,
            "{:?}",
            findings.problems
        );
    }
}
