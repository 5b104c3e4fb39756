//! After quiescence: what the clients were told, set against what the store holds, what the
//! subscriber received, what the dead-letter queue holds and what the read models serve.
//! Each finding is counted under the promise it breaks and described in a line.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;
use stockflow_events::OrderStatus;
use stockflow_store::StoredEvent;
use uuid::Uuid;

use super::subscriber::Deliveries;
use super::workload::{Attempt, EXPECTED_REFUSALS, Outcome};
use crate::Truth;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Counts {
    pub commands: usize,
    pub succeeded: usize,
    pub refused: usize,
    pub not_sent: usize,
    pub unknown: usize,
    /// Unknown outcomes found wholly in the store.
    pub unknown_in: usize,
    /// Unknown outcomes found wholly absent.
    pub unknown_out: usize,
    pub events: usize,
    /// Succeeded commands, or their events, missing from the store, the subscriber's
    /// deliveries or the read models.
    pub lost: usize,
    /// Events of refused commands; events, deliveries or read-model rows no command explains.
    pub unexpected: usize,
    /// Read-model rows or counts that took an event in twice.
    pub duplicated: usize,
    /// Read-model values that differ from the store's otherwise.
    pub mismatched: usize,
    /// Commands whose events are in the store only in part.
    pub partial: usize,
    pub invariant_violations: usize,
    /// Refusals with a code the workload cannot cause.
    pub unexpected_refusals: usize,
    pub poison_published: usize,
    pub dead_letters: usize,
    /// Dead letters that are not the poison published, or poison missing from them.
    pub dead_letter_mismatches: usize,
    /// Deliveries of an event beyond its first (allowed: at least once).
    pub redeliveries: usize,
    /// Unknown outcomes retried with their key whose answer contradicts the store.
    pub retry_mismatches: usize,
}

impl Counts {
    pub fn violations(&self) -> usize {
        self.lost
            + self.unexpected
            + self.duplicated
            + self.mismatched
            + self.partial
            + self.invariant_violations
            + self.unexpected_refusals
            + self.dead_letter_mismatches
            + self.retry_mismatches
    }
}

#[derive(Debug, Default)]
pub struct Findings {
    pub counts: Counts,
    pub problems: Vec<String>,
}

impl Findings {
    fn note(&mut self, problem: String) {
        if self.problems.len() < 200 {
            self.problems.push(problem);
        }
    }
}

/// The correlation id each event carries in its metadata.
pub fn correlation_of(event: &StoredEvent) -> Option<Uuid> {
    event.metadata["correlation_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
}

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

/// The dead-letter queue holds exactly the poison that was published, each once.
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
            format!("poison {what:?} is missing from the dead-letter queue")
        } else {
            format!("the dead-letter queue holds {what:?}, which is no poison of the run")
        });
    }
}

/// The invariants of SPEC §2 over the store's own state.
pub fn check_invariants(truth: &Truth, findings: &mut Findings) {
    let mut reserved: BTreeMap<&str, i64> = BTreeMap::new();
    let mut backordered: BTreeMap<&str, i64> = BTreeMap::new();
    for (id, order) in &truth.orders {
        let order = &order.order;
        let open = matches!(order.status, OrderStatus::Ready | OrderStatus::Backordered);
        if !open {
            continue;
        }
        let waiting = order.lines.iter().any(|l| l.backordered > 0);
        if (order.status == OrderStatus::Ready) == waiting {
            findings.counts.invariant_violations += 1;
            findings.note(format!(
                "order {id} is {:?} with backordered lines: {waiting}",
                order.status
            ));
        }
        for line in &order.lines {
            *reserved.entry(&line.sku).or_default() += line.reserved;
            *backordered.entry(&line.sku).or_default() += line.backordered;
        }
    }
    for (sku, (product, _)) in &truth.products {
        let of_orders = (
            reserved.get(sku.as_str()).copied().unwrap_or(0),
            backordered.get(sku.as_str()).copied().unwrap_or(0),
        );
        if product.reserved < 0
            || product.reserved > product.on_hand
            || (product.reserved, product.backordered()) != of_orders
        {
            findings.counts.invariant_violations += 1;
            findings.note(format!(
                "{sku}: on hand {}, reserved {}, backordered {}; its open orders reserve {} and wait for {}",
                product.on_hand,
                product.reserved,
                product.backordered(),
                of_orders.0,
                of_orders.1
            ));
        }
    }
}

/// The read models as served, against the store's truth: products and orders row by row,
/// customers, sales and replenishments by their counts.
pub fn check_read_models(truth: &Truth, served: &Served, findings: &mut Findings) {
    // Products.
    let mut seen: BTreeMap<&str, u32> = BTreeMap::new();
    for item in &served.products {
        let sku = item["sku"].as_str().unwrap_or("");
        *seen.entry(sku).or_default() += 1;
        let Some((p, version)) = truth.products.get(sku) else {
            findings.counts.unexpected += 1;
            findings.note(format!(
                "the read models list product {sku}, the store has none"
            ));
            continue;
        };
        let expected = (
            p.on_hand,
            p.reserved,
            p.backordered(),
            *version,
            p.unit_price_cents,
        );
        let actual = (
            item["on_hand"].as_i64().unwrap_or(-1),
            item["reserved"].as_i64().unwrap_or(-1),
            item["backordered"].as_i64().unwrap_or(-1),
            item["version"].as_i64().unwrap_or(-1),
            item["unit_price_cents"].as_i64().unwrap_or(-1),
        );
        if expected != actual {
            findings.counts.mismatched += 1;
            findings.note(format!(
                "product {sku} served as (on hand, reserved, backordered, version, price) {actual:?}; the store says {expected:?}"
            ));
        }
    }
    count_rows(
        &seen,
        truth.products.keys().map(String::as_str),
        "product",
        findings,
    );

    // Orders.
    let mut seen: BTreeMap<&str, u32> = BTreeMap::new();
    let ids: BTreeMap<String, &Uuid> = truth.orders.keys().map(|id| (id.to_string(), id)).collect();
    for item in &served.orders {
        let id = item["order_id"].as_str().unwrap_or("");
        *seen.entry(id).or_default() += 1;
        let Some(order) = ids.get(id).map(|id| &truth.orders[*id]) else {
            findings.counts.unexpected += 1;
            findings.note(format!(
                "the read models list order {id}, the store has none"
            ));
            continue;
        };
        let expected = (
            order.order.status.as_str().to_owned(),
            order.order.total_cents,
            order.version,
            order.order.lines.len() as i64,
        );
        let actual = (
            item["status"].as_str().unwrap_or("").to_owned(),
            item["total_cents"].as_i64().unwrap_or(-1),
            item["version"].as_i64().unwrap_or(-1),
            item["line_count"].as_i64().unwrap_or(-1),
        );
        if expected != actual {
            findings.counts.mismatched += 1;
            findings.note(format!(
                "order {id} served as (status, total, version, lines) {actual:?}; the store says {expected:?}"
            ));
        }
    }
    count_rows(&seen, ids.keys().map(String::as_str), "order", findings);

    // Order lines, as the read schema holds them.
    let mut lines: BTreeMap<Uuid, Vec<ServedLine>> = BTreeMap::new();
    for line in &served.order_lines {
        lines.entry(line.0).or_default().push(line.clone());
    }
    for (id, order) in &truth.orders {
        let expected: Vec<ServedLine> = order
            .order
            .lines
            .iter()
            .map(|l| {
                (
                    *id,
                    l.sku.clone(),
                    l.quantity,
                    l.reserved,
                    l.backordered,
                    l.unit_price_cents,
                )
            })
            .collect();
        let actual = lines.remove(id).unwrap_or_default();
        if actual.len() < expected.len() {
            findings.counts.lost += 1;
        } else if actual.len() > expected.len() {
            findings.counts.duplicated += 1;
        } else if actual != expected {
            findings.counts.mismatched += 1;
        } else {
            continue;
        }
        findings.note(format!(
            "order {id}'s lines (sku, quantity, reserved, backordered, price) are {:?}; the store says {:?}",
            actual.iter().map(|l| (&l.1, l.2, l.3, l.4, l.5)).collect::<Vec<_>>(),
            expected.iter().map(|l| (&l.1, l.2, l.3, l.4, l.5)).collect::<Vec<_>>(),
        ));
    }
    for id in lines.keys() {
        findings.counts.unexpected += 1;
        findings.note(format!(
            "the read models hold lines of order {id}, the store has no such order"
        ));
    }

    // Customers: counts that took an order in twice, or missed one.
    for (customer, expected) in &truth.customers {
        match served.customers.get(customer) {
            None => {
                findings.counts.lost += 1;
                findings.note(format!(
                    "customer {customer} is missing from the read models"
                ));
            }
            Some(body) => {
                let count = body["order_count"].as_i64().unwrap_or(-1);
                compare_count(
                    count,
                    expected.order_count,
                    &format!("customer {customer}'s order count"),
                    findings,
                );
                let open = body["open_order_count"].as_i64().unwrap_or(-1);
                compare_count(
                    open,
                    expected.open_order_count,
                    &format!("customer {customer}'s open orders"),
                    findings,
                );
                for (currency, expected_value) in &expected.lifetime_value {
                    let value = body["lifetime_value"][currency.as_str()]
                        .as_i64()
                        .unwrap_or(0);
                    compare_count(
                        value,
                        *expected_value,
                        &format!("customer {customer}'s lifetime value in {currency}"),
                        findings,
                    );
                }
            }
        }
    }

    // Sales by sku.
    for ((sku, currency), expected) in truth.sales_by_sku.iter().filter(|(_, s)| s.orders != 0) {
        let row = served
            .sales_by_sku
            .iter()
            .find(|r| r["sku"] == sku.as_str() && r["currency"] == currency.as_str());
        for (what, value, expected) in [
            ("orders", "orders", expected.orders),
            ("units sold", "units", expected.units),
            ("revenue", "revenue_cents", expected.revenue_cents),
        ] {
            let served = row.and_then(|r| r[value].as_i64()).unwrap_or(0);
            compare_count(
                served,
                expected,
                &format!("{what} of {sku} in {currency}"),
                findings,
            );
        }
    }

    // Replenishments: one row per request.
    compare_count(
        served.replenishments.len() as i64,
        truth.replenishments.len() as i64,
        "replenishment requests",
        findings,
    );
    let outstanding: i64 = served
        .replenishments
        .iter()
        .map(|r| r["outstanding"].as_i64().unwrap_or(0))
        .sum();
    let expected: i64 = truth.replenishments.iter().map(|r| r.outstanding).sum();
    if outstanding != expected {
        findings.counts.mismatched += 1;
        findings.note(format!(
            "replenishments outstanding: {outstanding} served, {expected} in the store"
        ));
    }
}

fn count_rows<'a>(
    seen: &BTreeMap<&str, u32>,
    expected: impl Iterator<Item = &'a str>,
    what: &str,
    findings: &mut Findings,
) {
    for key in expected {
        match seen.get(key).copied().unwrap_or(0) {
            0 => {
                findings.counts.lost += 1;
                findings.note(format!("{what} {key} is missing from the read models"));
            }
            1 => {}
            n => {
                findings.counts.duplicated += 1;
                findings.note(format!("{what} {key} is listed {n} times"));
            }
        }
    }
}

/// A count above the store's took something in twice; one below lost something.
fn compare_count(served: i64, expected: i64, what: &str, findings: &mut Findings) {
    if served > expected {
        findings.counts.duplicated += 1;
        findings.note(format!("{what}: {served} served, {expected} in the store"));
    } else if served < expected {
        findings.counts.lost += 1;
        findings.note(format!("{what}: {served} served, {expected} in the store"));
    }
}

/// An order line as the read schema holds it: order, sku, quantity, reserved, backordered,
/// unit price.
pub type ServedLine = (Uuid, String, i64, i64, i64, i64);

/// What the query service served, read at the store's head, and the order lines from the
/// read schema itself.
#[derive(Debug, Default, Clone)]
pub struct Served {
    pub products: Vec<Value>,
    pub orders: Vec<Value>,
    pub order_lines: Vec<ServedLine>,
    pub customers: BTreeMap<String, Value>,
    pub sales_by_sku: Vec<Value>,
    pub replenishments: Vec<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(position: i64, event_type: &str, correlation: Uuid, data: Value) -> StoredEvent {
        StoredEvent {
            position,
            stream_id: "s".into(),
            stream_version: position,
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            type_version: 1,
            data,
            metadata: json!({"correlation_id": correlation}),
            recorded_at: chrono::Utc::now(),
            commit_position: position,
        }
    }

    fn attempt(kind: &'static str, body: Value, outcome: Outcome) -> Attempt {
        Attempt {
            kind,
            path: format!("/{kind}"),
            body,
            idempotency_key: "k".into(),
            correlation_id: Uuid::now_v7(),
            outcome,
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

    /// A store with one product and one order of it, and the read models serving exactly
    /// that.
    fn one_order() -> (Truth, Served, Uuid) {
        let order_id = Uuid::now_v7();
        let c = Uuid::now_v7();
        let mut registered = event(
            1,
            "product.registered",
            c,
            json!({"sku": "A", "name": "a",
            "unit_price_cents": 100, "currency": "EUR", "initial_stock": 10, "backorder_policy": "reject"}),
        );
        registered.stream_id = "product-A".into();
        registered.stream_version = 1;
        let mut placed = event(
            2,
            "order.placed",
            c,
            json!({"order_id": order_id, "customer_id": "c",
            "currency": "EUR", "total_cents": 300, "status": "ready",
            "lines": [{"sku": "A", "quantity": 3, "unit_price_cents": 100, "reserved": 3, "backordered": 0}]}),
        );
        placed.stream_id = format!("order-{order_id}");
        placed.stream_version = 1;
        let truth = Truth::from_events(&[registered, placed]);
        let served = Served {
            products: vec![
                json!({"sku": "A", "on_hand": 10, "reserved": 0, "backordered": 0,
                "version": 1, "unit_price_cents": 100}),
            ],
            orders: vec![
                json!({"order_id": order_id, "status": "ready", "total_cents": 300,
                "version": 1, "line_count": 1}),
            ],
            order_lines: vec![(order_id, "A".into(), 3, 3, 0, 100)],
            customers: [(
                "c".to_owned(),
                json!({"order_count": 1, "open_order_count": 1, "lifetime_value": {"EUR": 300}}),
            )]
            .into(),
            sales_by_sku: vec![
                json!({"sku": "A", "currency": "EUR", "orders": 1, "units": 3,
                "revenue_cents": 300}),
            ],
            replenishments: vec![],
        };
        (truth, served, order_id)
    }

    #[test]
    fn read_models_that_took_an_event_twice_or_missed_one_are_counted() {
        let (truth, served, order_id) = one_order();
        let mut findings = Findings::default();
        check_read_models(&truth, &served, &mut findings);
        assert_eq!(findings.counts.violations(), 0, "{:?}", findings.problems);

        let mut twice = served.clone();
        twice.orders.push(twice.orders[0].clone());
        twice.order_lines.push((order_id, "A".into(), 3, 3, 0, 100));
        twice.sales_by_sku[0]["units"] = json!(6);
        let mut findings = Findings::default();
        check_read_models(&truth, &twice, &mut findings);
        assert_eq!(findings.counts.duplicated, 3, "{:?}", findings.problems);

        let mut missed = served.clone();
        missed.customers.clear();
        missed.products[0]["reserved"] = json!(3);
        let mut findings = Findings::default();
        check_read_models(&truth, &missed, &mut findings);
        assert_eq!(findings.counts.lost, 1, "{:?}", findings.problems);
        assert_eq!(findings.counts.mismatched, 1, "{:?}", findings.problems);
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
