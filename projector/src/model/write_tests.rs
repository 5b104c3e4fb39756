//! The statement a batch is written with: one, whatever it changes, with every value bound.

use chrono::{TimeZone, Utc};
use sqlx::{Arguments, Execute};
use stockflow_event_store::channels::PROJECTIONS;
use stockflow_events::{
    BackorderPolicy, Envelope, Event, Metadata, OrderPlaced, OrderStatus, PlacedLine,
    ProductRegistered, ReplenishmentRequested,
};
use uuid::Uuid;

use super::rows::Working;
use super::write::statement;

/// A batch that changes every table: a product registered (its first movement and price), an
/// order of it placed, and a replenishment requested.
fn everything() -> Working {
    let order_id = Uuid::from_u128(7);
    let events: [Event; 3] = [
        ProductRegistered {
            sku: "SKU-1".into(),
            name: "Widget".into(),
            unit_price_cents: 100,
            currency: "EUR".into(),
            initial_stock: 1,
            backorder_policy: BackorderPolicy::Backorder,
        }
        .into(),
        OrderPlaced {
            order_id,
            customer_id: "C-1".into(),
            currency: "EUR".into(),
            total_cents: 300,
            status: OrderStatus::Backordered,
            lines: vec![PlacedLine {
                sku: "SKU-1".into(),
                quantity: 3,
                unit_price_cents: 100,
                reserved: 1,
                backordered: 2,
            }],
        }
        .into(),
        ReplenishmentRequested {
            sku: "SKU-1".into(),
            order_id,
            shortfall: 2,
            quantity: 3,
        }
        .into(),
    ];
    let mut work = Working::default();
    for (position, event) in (1..).zip(events) {
        work.apply(&Envelope {
            id: Uuid::from_u128(position as u128),
            stream_id: "unused".into(),
            stream_version: 1,
            position,
            recorded_at: Utc.with_ymd_and_hms(2026, 3, 14, 9, 0, 0).unwrap(),
            metadata: Metadata::default(),
            event,
        })
        .expect("the event applies");
    }
    work
}

/// The statement's text and how many values are bound to it.
fn built(work: &Working, announce: bool) -> (String, usize) {
    let mut q = statement(work, 42, announce);
    let mut query = q.build();
    let arguments = query
        .take_arguments()
        .expect("the arguments encode")
        .expect("the statement has arguments");
    (query.sql().as_str().to_owned(), arguments.len())
}

/// The numbers of the placeholders in `sql`, in the order they appear.
fn placeholders(sql: &str) -> Vec<usize> {
    sql.split('$')
        .skip(1)
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("every `$` starts a placeholder")
        })
        .collect()
}

#[test]
fn a_batch_changing_every_table_is_one_statement_with_every_value_bound_once() {
    let (sql, bound) = built(&everything(), true);
    // 12 product columns, 13 order, 7 line, 7 replenishment, 5 customer, 3 lifetime value,
    // 5 daily, 6 daily-by-sku, 12 movement and 4 price; the checkpoint's position; the
    // notification's channel and position.
    assert_eq!(bound, 12 + 13 + 7 + 7 + 5 + 3 + 5 + 6 + 12 + 4 + 1 + 2);
    assert_eq!(placeholders(&sql), (1..=bound).collect::<Vec<_>>());
    assert!(sql.starts_with("WITH "), "{sql}");
    for table in [
        "products",
        "orders",
        "order_lines",
        "replenishments",
        "customers",
        "customer_lifetime_values",
        "daily_sales",
        "daily_sku_sales",
        "stock_movements",
        "product_prices",
    ] {
        assert_eq!(
            sql.matches(&format!("INSERT INTO {table} ")).count(),
            1,
            "{table} in {sql}"
        );
    }
    assert!(sql.ends_with(&format!(
        " SELECT pg_notify(${}, ${}::text)",
        bound - 1,
        bound
    )));
    // Tables resolve through the search path; the channel is bound.
    assert!(!sql.contains("read."), "{sql}");
    assert!(!sql.contains(PROJECTIONS), "{sql}");
}

#[test]
fn a_batch_that_changes_no_row_only_moves_the_checkpoint() {
    let (sql, bound) = built(&Working::default(), false);
    assert_eq!(
        sql,
        "WITH checkpoint_moved AS (UPDATE projections SET position = $1, status = 'running', \
         last_error = NULL, updated_at = now()) SELECT $2::bigint"
    );
    assert_eq!(bound, 2);
}

#[test]
fn the_statement_depends_on_which_tables_changed_not_on_how_many_rows() {
    let one = everything();
    let mut two = everything();
    let mut product = two.products["SKU-1"].clone();
    product.sku = "SKU-2".into();
    two.touched_products.insert(product.sku.clone());
    two.products.insert(product.sku.clone(), product);
    assert_eq!(built(&one, true), built(&two, true));
}
