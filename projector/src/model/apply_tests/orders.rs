//! Order events: the order's row and lines, and what they add to the customers' and the
//! sales' counters.

use super::*;

#[test]
fn a_placed_order_is_written_with_its_lines_numbered_from_one() {
    let batch = given().when(place(order_id(), CUSTOMER, OrderStatus::Backordered));
    let (order, lines) = batch.written_order(order_id());
    assert_eq!(
        order,
        OrderRow {
            status: "backordered".into(),
            placed_at: now(),
            updated_at: now(),
            version: VERSION,
            ..placed_order().0
        }
    );
    assert_eq!(
        lines,
        vec![
            LineRow {
                order_id: order_id(),
                line_no: 1,
                sku: SKU.into(),
                quantity: 2,
                reserved: 2,
                backordered: 0,
                unit_price_cents: 1_250,
            },
            LineRow {
                order_id: order_id(),
                line_no: 2,
                sku: OTHER_SKU.into(),
                quantity: 1,
                reserved: 0,
                backordered: 1,
                unit_price_cents: 500,
            },
        ]
    );
}

#[test]
fn a_placed_order_counts_for_its_customer_and_the_days_sales() {
    let batch = given().when(place(order_id(), CUSTOMER, OrderStatus::Ready));
    assert_eq!(
        batch.customers(),
        BTreeMap::from([(
            CUSTOMER.to_owned(),
            CustomerDelta {
                orders: 1,
                open: 1,
                first: Some(now()),
                last: Some(now()),
            }
        )])
    );
    assert_eq!(
        batch.lifetime_values(),
        BTreeMap::from([((CUSTOMER.to_owned(), "EUR".to_owned()), 3_000)])
    );
    assert_eq!(
        batch.daily(),
        BTreeMap::from([((today(), "EUR".to_owned()), sales(1, 3, 3_000))])
    );
    assert_eq!(
        batch.daily_sku(),
        BTreeMap::from([
            (
                (today(), OTHER_SKU.to_owned(), "EUR".to_owned()),
                sales(1, 1, 500)
            ),
            (
                (today(), SKU.to_owned(), "EUR".to_owned()),
                sales(1, 2, 2_500)
            ),
        ])
    );
}

#[test]
fn orders_of_one_customer_in_a_batch_add_up_from_the_first_to_the_last() {
    let batch = given()
        .when(place(order_id(), CUSTOMER, OrderStatus::Ready))
        .when(place(other_order_id(), CUSTOMER, OrderStatus::Ready));
    assert_eq!(
        batch.customers(),
        BTreeMap::from([(
            CUSTOMER.to_owned(),
            CustomerDelta {
                orders: 2,
                open: 2,
                first: Some(now()),
                last: Some(now() + chrono::Duration::minutes(1)),
            }
        )])
    );
    assert_eq!(
        batch.lifetime_values(),
        BTreeMap::from([((CUSTOMER.to_owned(), "EUR".to_owned()), 6_000)])
    );
    assert_eq!(
        batch.daily(),
        BTreeMap::from([((today(), "EUR".to_owned()), sales(2, 6, 6_000))])
    );
}

#[test]
fn orders_of_different_customers_and_currencies_count_apart() {
    let batch = given()
        .when(place(order_id(), CUSTOMER, OrderStatus::Ready))
        .when(OrderPlaced {
            currency: "USD".into(),
            ..place(other_order_id(), "C-7", OrderStatus::Ready)
        });
    assert_eq!(
        batch.lifetime_values(),
        BTreeMap::from([
            (("C-42".to_owned(), "EUR".to_owned()), 3_000),
            (("C-7".to_owned(), "USD".to_owned()), 3_000),
        ])
    );
    assert_eq!(
        batch.daily(),
        BTreeMap::from([
            ((today(), "EUR".to_owned()), sales(1, 3, 3_000)),
            ((today(), "USD".to_owned()), sales(1, 3, 3_000)),
        ])
    );
    assert_eq!(batch.customers().len(), 2);
}

#[test]
fn a_filled_line_sets_that_lines_reserved_and_backordered_units() {
    let (order, mut lines) = placed_order();
    (lines[1].reserved, lines[1].backordered) = (0, 1);
    let batch = given()
        .order(
            OrderRow {
                status: "backordered".into(),
                ..order
            },
            lines,
        )
        .when(OrderLineFilled {
            order_id: order_id(),
            sku: OTHER_SKU.into(),
            quantity: 1,
            reserved: 1,
            backordered: 0,
        });
    let (order, lines) = batch.written_order(order_id());
    assert_eq!(
        (order.status.as_str(), order.version, order.updated_at),
        ("backordered", VERSION, now())
    );
    // The other line is as it was; `placed_order`'s second line is fully reserved.
    assert_eq!(lines, placed_order().1);
    batch.assert_no_sales_or_customers();
}

#[test]
fn a_filled_line_the_order_does_not_have_cannot_be_applied() {
    let (order, lines) = placed_order();
    let (_, error) = given().order(order, lines).when_refused(OrderLineFilled {
        order_id: order_id(),
        sku: "SKU-9".into(),
        quantity: 1,
        reserved: 1,
        backordered: 0,
    });
    let line = format!("line SKU-9 of order {}", order_id());
    assert!(
        matches!(&error, ApplyError::Missing { what, .. } if *what == line),
        "{error:?}"
    );
}

#[test]
fn a_ready_order_says_so() {
    let (order, lines) = placed_order();
    let batch = given()
        .order(
            OrderRow {
                status: "backordered".into(),
                ..order
            },
            lines,
        )
        .when(OrderReady {
            order_id: order_id(),
        });
    let (order, lines) = batch.written_order(order_id());
    assert_eq!(
        order,
        OrderRow {
            status: "ready".into(),
            updated_at: now(),
            version: VERSION,
            ..placed_order().0
        }
    );
    assert_eq!(lines, placed_order().1);
    batch.assert_no_sales_or_customers();
}

#[test]
fn a_cancelled_order_says_when_and_is_no_longer_open() {
    let (order, lines) = placed_order();
    let batch = given().order(order, lines).when(OrderCancelled {
        order_id: order_id(),
        reason: Some("changed my mind".into()),
        lines: vec![CancelledLine {
            sku: SKU.into(),
            released: 2,
            backorder_withdrawn: 0,
        }],
    });
    let (order, _) = batch.written_order(order_id());
    assert_eq!(
        order,
        OrderRow {
            status: "cancelled".into(),
            cancelled_at: Some(now()),
            updated_at: now(),
            version: VERSION,
            ..placed_order().0
        }
    );
    assert_eq!(
        batch.customers(),
        BTreeMap::from([(
            CUSTOMER.to_owned(),
            CustomerDelta {
                orders: 0,
                open: -1,
                first: None,
                last: None,
            }
        )])
    );
}

#[test]
fn a_cancelled_order_is_withdrawn_from_the_sales_of_the_day_it_was_placed() {
    let (order, lines) = placed_order();
    let placed_on = before().date_naive();
    let batch = given().order(order, lines).when(OrderCancelled {
        order_id: order_id(),
        reason: None,
        lines: vec![],
    });
    assert_eq!(
        batch.lifetime_values(),
        BTreeMap::from([((CUSTOMER.to_owned(), "EUR".to_owned()), -3_000)])
    );
    assert_eq!(
        batch.daily(),
        BTreeMap::from([((placed_on, "EUR".to_owned()), sales(-1, -3, -3_000))])
    );
    assert_eq!(
        batch.daily_sku(),
        BTreeMap::from([
            (
                (placed_on, OTHER_SKU.to_owned(), "EUR".to_owned()),
                sales(-1, -1, -500)
            ),
            (
                (placed_on, SKU.to_owned(), "EUR".to_owned()),
                sales(-1, -2, -2_500)
            ),
        ])
    );
}

#[test]
fn an_order_placed_and_cancelled_in_one_batch_nets_its_sales_to_zero_but_counts_as_placed() {
    let batch = given()
        .when(place(order_id(), CUSTOMER, OrderStatus::Ready))
        .when(OrderCancelled {
            order_id: order_id(),
            reason: None,
            lines: vec![],
        });
    assert_eq!(
        batch.customers(),
        BTreeMap::from([(
            CUSTOMER.to_owned(),
            CustomerDelta {
                orders: 1,
                open: 0,
                first: Some(now()),
                last: Some(now()),
            }
        )])
    );
    assert_eq!(
        batch.lifetime_values(),
        BTreeMap::from([((CUSTOMER.to_owned(), "EUR".to_owned()), 0)])
    );
    assert_eq!(
        batch.daily(),
        BTreeMap::from([((today(), "EUR".to_owned()), sales(0, 0, 0))])
    );
    assert_eq!(
        batch.written_order(order_id()).0.status,
        OrderStatus::Cancelled.as_str()
    );
}

#[test]
fn a_shipped_order_says_how_and_when_and_is_no_longer_open_but_still_sold() {
    let (order, lines) = placed_order();
    let batch = given().order(order, lines).when(OrderShipped {
        order_id: order_id(),
        carrier: "DHL".into(),
        tracking_number: "JD0123".into(),
        lines: vec![ShippedLine {
            sku: SKU.into(),
            quantity: 2,
        }],
    });
    let (order, lines) = batch.written_order(order_id());
    assert_eq!(
        order,
        OrderRow {
            status: "shipped".into(),
            shipped_at: Some(now()),
            carrier: Some("DHL".into()),
            tracking_number: Some("JD0123".into()),
            updated_at: now(),
            version: VERSION,
            ..placed_order().0
        }
    );
    assert_eq!(lines, placed_order().1);
    assert_eq!(
        batch.customers(),
        BTreeMap::from([(
            CUSTOMER.to_owned(),
            CustomerDelta {
                orders: 0,
                open: -1,
                first: None,
                last: None,
            }
        )])
    );
    assert_eq!(batch.lifetime_values(), BTreeMap::new());
    assert_eq!(batch.daily(), BTreeMap::new());
    assert_eq!(batch.daily_sku(), BTreeMap::new());
}

#[test]
fn an_event_about_an_order_the_read_model_lacks_cannot_be_applied() {
    let (batch, error) = given().when_refused(OrderReady {
        order_id: order_id(),
    });
    assert!(
        matches!(
            &error,
            ApplyError::Missing { position: 1_001, event_type, what }
                if event_type == "order.ready" && *what == format!("order {}", order_id())
        ),
        "{error:?}"
    );
    batch.assert_no_sales_or_customers();
}

#[test]
fn rows_the_batch_only_loaded_are_not_written() {
    let (order, lines) = placed_order();
    let batch = given()
        .product(widget())
        .product(ProductRow {
            sku: OTHER_SKU.into(),
            ..widget()
        })
        .order(order, lines)
        .when(PriceChanged {
            sku: OTHER_SKU.into(),
            previous_unit_price_cents: 1_250,
            unit_price_cents: 1_300,
            currency: "EUR".into(),
        });
    assert!(!batch.work.touched_products.contains(SKU));
    assert!(batch.work.touched_orders.is_empty());
    assert_eq!(batch.written_product(OTHER_SKU).unit_price_cents, 1_300);
}
