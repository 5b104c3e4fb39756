//! The history read models: the movement row each stock-changing event adds (its changes, the
//! levels after it, and the order, reference or reason it carries), and the price rows.

use super::*;
use crate::model::rows::{MovementRow, PriceRow};

impl Batch {
    /// A cancellation's reason as `load` finds it in the store, for a batch that begins
    /// between a cancellation and its releases.
    fn cancelled_before(mut self, order_id: Uuid, reason: Option<&str>) -> Batch {
        self.work
            .cancellations
            .insert(order_id, reason.map(str::to_owned));
        self
    }
}

/// The first event under test is at this position (see `Batch::envelope`).
const FIRST: i64 = 1_001;

/// A movement of [`SKU`] by the first event under test, with no order, reference or reason.
fn movement(event: &str, changes: (i64, i64), levels: (i64, i64)) -> MovementRow {
    MovementRow {
        sku: SKU.into(),
        position: FIRST,
        at: now(),
        event: event.into(),
        on_hand_change: changes.0,
        reserved_change: changes.1,
        on_hand: levels.0,
        reserved: levels.1,
        available: levels.0 - levels.1,
        order_id: None,
        reference: None,
        reason: None,
    }
}

fn registered(initial_stock: i64) -> ProductRegistered {
    ProductRegistered {
        sku: SKU.into(),
        name: "Widget".into(),
        unit_price_cents: 1_250,
        currency: "EUR".into(),
        initial_stock,
        backorder_policy: BackorderPolicy::Backorder,
    }
}

fn released(order_id: Uuid, released: i64) -> StockReleased {
    StockReleased {
        sku: SKU.into(),
        order_id,
        released,
        backorder_withdrawn: 0,
        on_hand: 10,
        reserved: 2 - released,
        available: 8 + released,
        backordered: 0,
    }
}

#[test]
fn a_registration_is_the_products_first_movement_and_first_price() {
    let batch = given().when(registered(10));
    assert_eq!(
        batch.work.movements,
        vec![movement("product.registered", (10, 0), (10, 0))]
    );
    assert_eq!(
        batch.work.prices,
        vec![PriceRow {
            sku: SKU.into(),
            position: FIRST,
            at: now(),
            unit_price_cents: 1_250,
        }]
    );
}

#[test]
fn a_product_registered_with_nothing_in_stock_still_has_a_first_movement() {
    let batch = given().when(registered(0));
    assert_eq!(
        batch.work.movements,
        vec![movement("product.registered", (0, 0), (0, 0))]
    );
}

#[test]
fn a_receipt_adds_to_on_hand_with_its_reference() {
    let batch = given().product(widget()).when(receive(5));
    assert_eq!(
        batch.work.movements,
        vec![MovementRow {
            reference: Some("PO-7".into()),
            ..movement("product.stock_received", (5, 0), (15, 2))
        }]
    );
    assert_eq!(batch.work.prices, vec![]);
}

#[test]
fn an_adjustment_changes_on_hand_by_its_delta_with_its_reason() {
    let batch = given().product(widget()).when(StockAdjusted {
        sku: SKU.into(),
        delta: -4,
        reason: "damaged".into(),
        on_hand: 6,
        reserved: 2,
        available: 4,
    });
    assert_eq!(
        batch.work.movements,
        vec![MovementRow {
            reason: Some("damaged".into()),
            ..movement("product.stock_adjusted", (-4, 0), (6, 2))
        }]
    );
}

#[test]
fn a_reservation_and_a_filled_backorder_add_to_reserved_for_their_order() {
    let batch = given()
        .product(widget())
        .when(StockReserved {
            sku: SKU.into(),
            order_id: order_id(),
            quantity: 3,
            on_hand: 10,
            reserved: 5,
            available: 5,
        })
        .when(BackorderFilled {
            sku: SKU.into(),
            order_id: other_order_id(),
            quantity: 1,
            remaining: 0,
            on_hand: 10,
            reserved: 6,
            available: 4,
            backordered: 0,
        });
    assert_eq!(
        batch.work.movements,
        vec![
            MovementRow {
                order_id: Some(order_id()),
                ..movement("product.stock_reserved", (0, 3), (10, 5))
            },
            MovementRow {
                position: FIRST + 1,
                at: now() + chrono::Duration::minutes(1),
                order_id: Some(other_order_id()),
                ..movement("product.backorder_filled", (0, 1), (10, 6))
            },
        ]
    );
}

#[test]
fn a_release_takes_from_reserved_with_the_reason_of_the_cancellation_before_it() {
    let (order, lines) = placed_order();
    let batch = given()
        .order(order, lines)
        .product(widget())
        .when(OrderCancelled {
            order_id: order_id(),
            reason: Some("changed my mind".into()),
            lines: vec![],
        })
        .when(released(order_id(), 2));
    assert_eq!(
        batch.work.movements,
        vec![MovementRow {
            position: FIRST + 1,
            at: now() + chrono::Duration::minutes(1),
            order_id: Some(order_id()),
            reason: Some("changed my mind".into()),
            ..movement("product.stock_released", (0, -2), (10, 0))
        }]
    );
}

#[test]
fn a_release_whose_cancellation_came_in_an_earlier_batch_has_its_reason_from_the_store() {
    let batch = given()
        .product(widget())
        .cancelled_before(order_id(), Some("too slow"))
        .cancelled_before(other_order_id(), None)
        .when(released(order_id(), 2))
        .when(released(other_order_id(), 0));
    let reasons: Vec<Option<&str>> = batch
        .work
        .movements
        .iter()
        .map(|m| m.reason.as_deref())
        .collect();
    assert_eq!(reasons, vec![Some("too slow"), None]);
    // A line that was wholly backordered releases nothing, and still says so.
    assert_eq!(
        (
            batch.work.movements[1].reserved_change,
            batch.work.movements[1].order_id
        ),
        (0, Some(other_order_id()))
    );
}

#[test]
fn a_shipment_takes_from_on_hand_and_reserved_alike() {
    let batch = given().product(widget()).when(StockShipped {
        sku: SKU.into(),
        order_id: order_id(),
        quantity: 2,
        on_hand: 8,
        reserved: 0,
        available: 8,
    });
    assert_eq!(
        batch.work.movements,
        vec![MovementRow {
            order_id: Some(order_id()),
            ..movement("product.stock_shipped", (-2, -2), (8, 0))
        }]
    );
}

#[test]
fn a_price_change_adds_a_price_row_and_no_movement() {
    let batch = given().product(widget()).when(PriceChanged {
        sku: SKU.into(),
        previous_unit_price_cents: 1_250,
        unit_price_cents: 1_400,
        currency: "EUR".into(),
    });
    assert_eq!(
        batch.work.prices,
        vec![PriceRow {
            sku: SKU.into(),
            position: FIRST,
            at: now(),
            unit_price_cents: 1_400,
        }]
    );
    assert_eq!(batch.work.movements, vec![]);
}

#[test]
fn events_that_leave_on_hand_and_reserved_alone_add_no_history() {
    let batch = given()
        .product(widget())
        .when(ProductDiscontinued { sku: SKU.into() })
        .when(StockBackordered {
            sku: SKU.into(),
            order_id: order_id(),
            quantity: 4,
            backordered: 4,
        })
        .when(ReplenishmentRequested {
            sku: SKU.into(),
            order_id: order_id(),
            shortfall: 4,
            quantity: 5,
        })
        .when(place(other_order_id(), CUSTOMER, OrderStatus::Ready));
    assert_eq!(batch.work.movements, vec![]);
    assert_eq!(batch.work.prices, vec![]);
}

#[test]
fn an_event_that_cannot_be_applied_adds_no_history() {
    let (batch, _) = given().when_refused(receive(5));
    assert_eq!(batch.work.movements, vec![]);
}

#[test]
fn the_changes_of_a_products_movements_add_up_to_its_levels() {
    let batch = given()
        .when(registered(4))
        .when(StockReceived {
            on_hand: 10,
            reserved: 0,
            available: 10,
            ..receive(6)
        })
        .when(StockReserved {
            sku: SKU.into(),
            order_id: order_id(),
            quantity: 3,
            on_hand: 10,
            reserved: 3,
            available: 7,
        })
        .when(StockShipped {
            sku: SKU.into(),
            order_id: order_id(),
            quantity: 3,
            on_hand: 7,
            reserved: 0,
            available: 7,
        });
    let product = batch.written_product(SKU);
    let movements = &batch.work.movements;
    let on_hand: i64 = movements.iter().map(|m| m.on_hand_change).sum();
    let reserved: i64 = movements.iter().map(|m| m.reserved_change).sum();
    assert_eq!((on_hand, reserved), (product.on_hand, product.reserved));
    let last = movements.last().expect("movements");
    assert_eq!(
        (last.on_hand, last.reserved, last.available),
        (product.on_hand, product.reserved, product.available)
    );
}
