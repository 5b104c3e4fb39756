//! Comparing the read models, as the query API serves them, with the truth of the store.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use stockflow_e2e::{LineTruth, SalesTruth, Stack, Truth};

/// Every item of a paginated list, following `next_cursor`.
pub async fn all_items(stack: &Stack, path: &str, position: i64) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let page_path = match &cursor {
            Some(c) => format!("{path}{separator}limit=500&cursor={c}"),
            None => format!("{path}{separator}limit=500"),
        };
        let page = stack.query_at(&page_path, position).await;
        let body = page.ok();
        items.extend(
            body["items"]
                .as_array()
                .expect("a list of items")
                .iter()
                .cloned(),
        );
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// Asserts that every read model equals what the store says, as of its head.
pub async fn assert_read_models_match_the_store(stack: &Stack) {
    let truth = Truth::from_events(&stack.events().await);
    let head = truth.head;

    // Products, by sku.
    let products = all_items(stack, "/v1/products", head).await;
    let served: BTreeSet<String> = products
        .iter()
        .map(|p| p["sku"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        served,
        truth.products.keys().cloned().collect(),
        "the products listed differ from the store's"
    );
    for item in &products {
        let sku = item["sku"].as_str().unwrap_or("");
        let (p, version) = &truth.products[sku];
        let expected = (
            p.name.as_str(),
            p.unit_price_cents,
            p.currency.as_str(),
            if p.discontinued {
                "discontinued"
            } else {
                "active"
            },
            p.on_hand,
            p.reserved,
            p.available(),
            p.backordered(),
            *version,
        );
        let actual = (
            item["name"].as_str().unwrap_or(""),
            item["unit_price_cents"].as_i64().unwrap_or(-1),
            item["currency"].as_str().unwrap_or(""),
            item["status"].as_str().unwrap_or(""),
            item["on_hand"].as_i64().unwrap_or(-1),
            item["reserved"].as_i64().unwrap_or(-1),
            item["available"].as_i64().unwrap_or(-1),
            item["backordered"].as_i64().unwrap_or(-1),
            item["version"].as_i64().unwrap_or(-1),
        );
        assert_eq!(
            actual, expected,
            "product {sku} differs from the store (name, price, currency, status, on hand, reserved, available, backordered, version)"
        );
    }

    // Orders, each with its lines.
    let orders = all_items(stack, "/v1/orders", head).await;
    assert_eq!(
        orders.len(),
        truth.orders.len(),
        "the orders listed differ in number from the store's"
    );
    for (id, expected) in &truth.orders {
        let served = stack.query_at(&format!("/v1/orders/{id}"), head).await;
        let body = served.ok();
        assert_eq!(
            body["status"],
            expected.order.status.as_str(),
            "order {id} status"
        );
        assert_eq!(
            body["customer_id"],
            expected.order.customer_id.as_str(),
            "order {id} customer"
        );
        assert_eq!(
            body["total_cents"], expected.order.total_cents,
            "order {id} total"
        );
        assert_eq!(
            body["currency"],
            expected.order.currency.as_str(),
            "order {id} currency"
        );
        assert_eq!(body["version"], expected.version, "order {id} version");
        assert_eq!(
            body["carrier"].as_str(),
            expected.carrier.as_deref(),
            "order {id} carrier"
        );
        let lines: Vec<LineTruth> = body["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| {
                (
                    l["sku"].as_str().unwrap_or("").to_owned(),
                    l["quantity"].as_i64().unwrap_or(-1),
                    l["reserved"].as_i64().unwrap_or(-1),
                    l["backordered"].as_i64().unwrap_or(-1),
                    l["unit_price_cents"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        assert_eq!(lines, expected.lines(), "order {id} lines");
    }
    // The order list, newest first.
    let placed: Vec<&str> = orders
        .iter()
        .map(|o| o["placed_at"].as_str().unwrap_or(""))
        .collect();
    let mut sorted = placed.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(placed, sorted, "orders are not listed newest first");

    // Customers.
    for (customer_id, expected) in &truth.customers {
        let body = stack
            .query_at(&format!("/v1/customers/{customer_id}"), head)
            .await
            .ok()
            .clone();
        assert_eq!(
            body["order_count"], expected.order_count,
            "customer {customer_id} order count"
        );
        assert_eq!(
            body["open_order_count"], expected.open_order_count,
            "customer {customer_id} open orders"
        );
        let served: BTreeMap<String, i64> = body["lifetime_value"]
            .as_object()
            .expect("a lifetime value map")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(-1)))
            .filter(|(_, v)| *v != 0)
            .collect();
        let expected_values: BTreeMap<String, i64> = expected
            .lifetime_value
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert_eq!(
            served, expected_values,
            "customer {customer_id} lifetime value"
        );
    }

    // Daily sales, by day and by sku.
    let rows = stack
        .query_at("/v1/analytics/sales?group_by=day", head)
        .await
        .ok()["rows"]
        .clone();
    let by_day: BTreeMap<(String, String), SalesTruth> = sales_rows(&rows, "day");
    let expected: BTreeMap<(String, String), SalesTruth> = truth
        .sales_by_day
        .iter()
        .filter(|(_, s)| s.orders != 0)
        .map(|((day, currency), s)| ((day.to_string(), currency.clone()), *s))
        .collect();
    assert_eq!(by_day, expected, "daily sales differ from the store's");
    let rows = stack
        .query_at("/v1/analytics/sales?group_by=sku", head)
        .await
        .ok()["rows"]
        .clone();
    let by_sku = sales_rows(&rows, "sku");
    let expected: BTreeMap<(String, String), SalesTruth> = truth
        .sales_by_sku
        .iter()
        .filter(|(_, s)| s.orders != 0)
        .map(|(k, s)| (k.clone(), *s))
        .collect();
    assert_eq!(by_sku, expected, "sales by sku differ from the store's");

    // Replenishments, oldest first, receipts fulfilling them in that order.
    let served = all_items(stack, "/v1/replenishments", head).await;
    let served: Vec<(String, String, i64, i64, String)> = served
        .iter()
        .map(|r| {
            (
                r["sku"].as_str().unwrap_or("").to_owned(),
                r["order_id"].as_str().unwrap_or("").to_owned(),
                r["quantity"].as_i64().unwrap_or(-1),
                r["outstanding"].as_i64().unwrap_or(-1),
                r["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, i64, i64, String)> = truth
        .replenishments
        .iter()
        .map(|r| {
            let status = if r.outstanding == 0 {
                "fulfilled"
            } else {
                "open"
            };
            (
                r.sku.clone(),
                r.order_id.to_string(),
                r.quantity,
                r.outstanding,
                status.to_owned(),
            )
        })
        .collect();
    assert_eq!(served, expected, "replenishments differ from the store's");

    assert_invariants_in_read_models(&products, stack, head).await;
}

fn sales_rows(rows: &Value, key: &str) -> BTreeMap<(String, String), SalesTruth> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                (
                    r[key].as_str().unwrap_or("").to_owned(),
                    r["currency"].as_str().unwrap_or("").to_owned(),
                ),
                SalesTruth {
                    orders: r["orders"].as_i64().unwrap_or(-1),
                    units: r["units"].as_i64().unwrap_or(-1),
                    revenue_cents: r["revenue_cents"].as_i64().unwrap_or(-1),
                },
            )
        })
        .filter(|(_, s)| s.orders != 0)
        .collect()
}

/// The invariants of docs/domain.md, over what the read models serve.
async fn assert_invariants_in_read_models(products: &[Value], stack: &Stack, head: i64) {
    let orders = all_items(stack, "/v1/orders", head).await;
    let mut reserved: BTreeMap<String, i64> = BTreeMap::new();
    let mut backordered: BTreeMap<String, i64> = BTreeMap::new();
    for order in orders {
        let status = order["status"].as_str().unwrap_or("");
        if status != "ready" && status != "backordered" {
            continue;
        }
        let id = order["order_id"].as_str().unwrap_or("");
        let body = stack
            .query_at(&format!("/v1/orders/{id}"), head)
            .await
            .ok()
            .clone();
        let lines = body["lines"].as_array().expect("lines").clone();
        let waiting = lines
            .iter()
            .any(|l| l["backordered"].as_i64().unwrap_or(0) > 0);
        assert_eq!(
            status == "ready",
            !waiting,
            "order {id} is {status} with backordered lines: {waiting}"
        );
        for line in lines {
            let sku = line["sku"].as_str().unwrap_or("").to_owned();
            *reserved.entry(sku.clone()).or_default() += line["reserved"].as_i64().unwrap_or(0);
            *backordered.entry(sku).or_default() += line["backordered"].as_i64().unwrap_or(0);
        }
    }
    for product in products {
        let sku = product["sku"].as_str().unwrap_or("");
        let (on_hand, r, b) = (
            product["on_hand"].as_i64().unwrap_or(-1),
            product["reserved"].as_i64().unwrap_or(-1),
            product["backordered"].as_i64().unwrap_or(-1),
        );
        assert!(
            0 <= r && r <= on_hand,
            "{sku}: reserved {r}, on hand {on_hand}"
        );
        assert_eq!(
            r,
            reserved.get(sku).copied().unwrap_or(0),
            "{sku}: reserved vs its open orders"
        );
        assert_eq!(
            b,
            backordered.get(sku).copied().unwrap_or(0),
            "{sku}: backordered vs its open orders"
        );
    }
}
