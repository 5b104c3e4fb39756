//! Commands against the store: what each client was told against the events its command
//! left.

use std::collections::HashMap;

use stockflow_event_store::StoredEvent;
use uuid::Uuid;

use super::{Findings, correlation_of};
use crate::faults::workload::{Attempt, EXPECTED_REFUSALS, Outcome};

/// Commands against the store: a succeeded command's events are there, ending at the
/// position it was told; a refused or unsent one left nothing; an unknown one is wholly in
/// or wholly out; no event lacks a command.
pub fn check_commands(attempts: &[Attempt], events: &[StoredEvent], findings: &mut Findings) {
    let mut by_correlation: HashMap<Uuid, Vec<&StoredEvent>> = HashMap::new();
    for event in events {
        match correlation_of(event) {
            Some(c) => by_correlation.entry(c).or_default().push(event),
            None => {
                findings.counts.unexpected += 1;
                findings.note(format!(
                    "event {} at {} carries no correlation id",
                    event.event_type, event.position
                ));
            }
        }
    }
    let counts = &mut findings.counts;
    counts.commands = attempts.len();
    counts.events = events.len();
    let mut explained = 0;
    let mut problems = Vec::new();
    for attempt in attempts {
        let own = by_correlation
            .get(&attempt.correlation_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        explained += own.len();
        match &attempt.outcome {
            Outcome::Succeeded { position, .. } => {
                counts.succeeded += 1;
                if own.is_empty() {
                    counts.lost += 1;
                    problems.push(format!(
                        "{} {} succeeded (position {position}) but none of its events is in the store",
                        attempt.kind, attempt.path
                    ));
                } else if own.iter().map(|e| e.position).max() != Some(*position) {
                    counts.lost += 1;
                    problems.push(format!(
                        "{} {} was told position {position}; its events end at {:?}",
                        attempt.kind,
                        attempt.path,
                        own.iter().map(|e| e.position).max()
                    ));
                }
            }
            Outcome::Refused { status, code } => {
                counts.refused += 1;
                if !EXPECTED_REFUSALS.contains(&code.as_str()) {
                    counts.unexpected_refusals += 1;
                    problems.push(format!(
                        "{} {} refused with {status} {code}: {}",
                        attempt.kind, attempt.path, attempt.body
                    ));
                }
                if !own.is_empty() {
                    counts.unexpected += own.len();
                    problems.push(format!(
                        "{} {} was refused ({code}) yet wrote {} events",
                        attempt.kind,
                        attempt.path,
                        own.len()
                    ));
                }
            }
            Outcome::NotSent => {
                counts.not_sent += 1;
                if !own.is_empty() {
                    counts.unexpected += own.len();
                    problems.push(format!(
                        "{} {} never reached a service yet wrote {} events",
                        attempt.kind,
                        attempt.path,
                        own.len()
                    ));
                }
            }
            Outcome::Unknown { .. } => {
                counts.unknown += 1;
                if own.is_empty() {
                    counts.unknown_out += 1;
                } else {
                    match whole(attempt, own) {
                        Ok(()) => counts.unknown_in += 1,
                        Err(why) => {
                            counts.partial += 1;
                            problems.push(format!(
                                "{} {} (unknown outcome) is in the store only in part: {why}",
                                attempt.kind, attempt.path
                            ));
                        }
                    }
                }
            }
        }
        // Whatever the outcome, one command's events are one contiguous run.
        if let Err(why) = contiguous(own)
            && matches!(attempt.outcome, Outcome::Succeeded { .. })
        {
            counts.partial += 1;
            problems.push(format!("{} {}: {why}", attempt.kind, attempt.path));
        }
    }
    let correlated: usize = by_correlation.values().map(Vec::len).sum();
    if correlated > explained {
        counts.unexpected += correlated - explained;
        problems.push(format!(
            "{} events carry a correlation id no command of the run sent",
            correlated - explained
        ));
    }
    for problem in problems {
        findings.note(problem);
    }
}

fn contiguous(events: &[&StoredEvent]) -> Result<(), String> {
    let (Some(first), Some(last)) = (
        events.iter().map(|e| e.position).min(),
        events.iter().map(|e| e.position).max(),
    ) else {
        return Ok(());
    };
    if (last - first + 1) as usize != events.len() {
        return Err(format!(
            "its {} events are spread over positions {first}..={last}",
            events.len()
        ));
    }
    Ok(())
}

/// Whether the events of one command are all a command of its kind writes: the event that
/// records it and, for an order, the stock movements of each of its lines.
fn whole(attempt: &Attempt, events: &[&StoredEvent]) -> Result<(), String> {
    contiguous(events)?;
    let lead = match attempt.kind {
        "register" => "product.registered",
        "receive" => "product.stock_received",
        "adjust" => "product.stock_adjusted",
        "price" => "product.price_changed",
        "discontinue" => "product.discontinued",
        "place" => "order.placed",
        "cancel" => "order.cancelled",
        "ship" => "order.shipped",
        other => return Err(format!("unknown command kind {other}")),
    };
    let of = |t: &'static str| events.iter().filter(move |e| e.event_type == t);
    if of(lead).count() != 1 {
        return Err(format!("{} {lead} events", of(lead).count()));
    }
    match attempt.kind {
        "place" => {
            let order_id = attempt.body["order_id"].as_str().unwrap_or("");
            for line in attempt.body["lines"].as_array().into_iter().flatten() {
                let sku = line["sku"].as_str().unwrap_or("");
                let moved: i64 = of("product.stock_reserved")
                    .chain(of("product.stock_backordered"))
                    .filter(|e| e.data["sku"] == sku && e.data["order_id"] == order_id)
                    .map(|e| e.data["quantity"].as_i64().unwrap_or(0))
                    .sum();
                let wanted = line["quantity"].as_i64().unwrap_or(0);
                if moved != wanted {
                    return Err(format!(
                        "line {sku}: {wanted} ordered, {moved} reserved or backordered"
                    ));
                }
            }
        }
        "receive" => {
            let filled = of("product.backorder_filled").count();
            let lines = of("order.line_filled").count();
            if filled != lines {
                return Err(format!(
                    "{filled} backorders filled but {lines} order lines filled"
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::test_event as event;
    use super::*;

    fn attempt(kind: &'static str, body: Value, outcome: Outcome) -> Attempt {
        Attempt {
            kind,
            path: format!("/{kind}"),
            body,
            idempotency_key: "k".into(),
            correlation_id: Uuid::now_v7(),
            outcome,
            answered_at: std::time::Instant::now(),
        }
    }

    fn order(order_id: Uuid) -> Value {
        json!({"order_id": order_id, "customer_id": "c",
               "lines": [{"sku": "A", "quantity": 3}, {"sku": "B", "quantity": 2}]})
    }

    #[test]
    fn a_success_without_events_is_lost_and_a_refusal_with_events_is_unexpected() {
        let told = attempt(
            "price",
            json!({}),
            Outcome::Succeeded {
                position: 1,
                version: 2,
            },
        );
        let refused = attempt(
            "adjust",
            json!({}),
            Outcome::Refused {
                status: 409,
                code: "adjustment_below_reserved".into(),
            },
        );
        let events = vec![event(
            1,
            "product.stock_adjusted",
            refused.correlation_id,
            json!({}),
        )];
        let mut findings = Findings::default();
        check_commands(&[told, refused], &events, &mut findings);
        assert_eq!(findings.counts.lost, 1, "{:?}", findings.problems);
        assert_eq!(findings.counts.unexpected, 1, "{:?}", findings.problems);
        assert_eq!(findings.counts.violations(), 2);
    }

    #[test]
    fn an_unknown_order_with_a_line_missing_is_partial_and_a_whole_one_is_in() {
        let (id_1, id_2) = (Uuid::now_v7(), Uuid::now_v7());
        let whole = attempt(
            "place",
            order(id_1),
            Outcome::Unknown {
                why: "timeout".into(),
            },
        );
        let part = attempt(
            "place",
            order(id_2),
            Outcome::Unknown {
                why: "timeout".into(),
            },
        );
        let c = whole.correlation_id;
        let p = part.correlation_id;
        let events = vec![
            event(1, "order.placed", c, json!({})),
            event(
                2,
                "product.stock_reserved",
                c,
                json!({"sku": "A", "order_id": id_1, "quantity": 1}),
            ),
            event(
                3,
                "product.stock_backordered",
                c,
                json!({"sku": "A", "order_id": id_1, "quantity": 2}),
            ),
            event(
                4,
                "product.stock_reserved",
                c,
                json!({"sku": "B", "order_id": id_1, "quantity": 2}),
            ),
            event(5, "order.placed", p, json!({})),
            event(
                6,
                "product.stock_reserved",
                p,
                json!({"sku": "A", "order_id": id_2, "quantity": 3}),
            ),
        ];
        let mut findings = Findings::default();
        check_commands(&[whole, part], &events, &mut findings);
        assert_eq!(findings.counts.unknown_in, 1, "{:?}", findings.problems);
        assert_eq!(findings.counts.partial, 1, "{:?}", findings.problems);
    }

    #[test]
    fn events_no_command_sent_are_unexpected() {
        let events = vec![event(1, "product.registered", Uuid::now_v7(), json!({}))];
        let mut findings = Findings::default();
        check_commands(&[], &events, &mut findings);
        assert_eq!(findings.counts.unexpected, 1);
    }
}
