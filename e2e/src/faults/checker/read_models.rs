//! The read models as the query service serves them, against the store's truth.

use std::collections::BTreeMap;

use serde_json::Value;
use uuid::Uuid;

use super::Findings;
use crate::Truth;

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
            .lines()
            .into_iter()
            .map(|(sku, quantity, reserved, backordered, price)| {
                (*id, sku, quantity, reserved, backordered, price)
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

    use super::super::test_event as event;
    use super::*;

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
}
