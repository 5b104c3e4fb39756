//! Product events: the product's row, and the replenishment requests receipts fulfil.

use super::*;

#[test]
fn a_registered_product_is_active_with_its_initial_stock_all_available() {
    let batch = given().when(ProductRegistered {
        sku: SKU.into(),
        name: "Widget".into(),
        unit_price_cents: 1_250,
        currency: "EUR".into(),
        initial_stock: 10,
        backorder_policy: BackorderPolicy::Backorder,
    });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            reserved: 0,
            available: 10,
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
    batch.assert_no_sales_or_customers();
}

#[test]
fn a_product_registered_to_reject_shortfalls_says_so() {
    let batch = given().when(ProductRegistered {
        sku: SKU.into(),
        name: "Gadget".into(),
        unit_price_cents: 99,
        currency: "USD".into(),
        initial_stock: 0,
        backorder_policy: BackorderPolicy::Reject,
    });
    let product = batch.written_product(SKU);
    assert_eq!(
        (
            product.name.as_str(),
            product.unit_price_cents,
            product.currency.as_str(),
            product.backorder_policy.as_str(),
            product.on_hand,
            product.available,
        ),
        ("Gadget", 99, "USD", "reject", 0, 0)
    );
}

#[test]
fn received_stock_sets_the_stated_levels() {
    let batch = given().product(widget()).when(StockReceived {
        backordered: 1,
        ..receive(5)
    });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            on_hand: 15,
            available: 13,
            backordered: 1,
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
    assert_eq!(batch.written_replenishments(), BTreeMap::new());
}

#[test]
fn received_stock_fulfils_open_replenishments_oldest_first() {
    let older = Uuid::from_u128(1);
    let newer = Uuid::from_u128(2);
    // Inserted newest first: the order of fulfilment is the requests' positions.
    let batch = given()
        .product(widget())
        .replenishment(open_request(newer, 6, 20))
        .replenishment(open_request(older, 4, 10))
        .when(receive(7));
    assert_eq!(
        batch.written_replenishments(),
        BTreeMap::from([
            (
                (SKU.to_owned(), older),
                ReplenishmentRow {
                    outstanding: 0,
                    status: "fulfilled".into(),
                    ..open_request(older, 4, 10)
                }
            ),
            (
                (SKU.to_owned(), newer),
                ReplenishmentRow {
                    outstanding: 3,
                    ..open_request(newer, 6, 20)
                }
            ),
        ])
    );
}

#[test]
fn received_stock_beyond_the_open_requests_fulfils_them_all() {
    let batch = given()
        .product(widget())
        .replenishment(open_request(order_id(), 4, 10))
        .when(receive(50));
    let request = &batch.written_replenishments()[&(SKU.to_owned(), order_id())];
    assert_eq!(
        (request.outstanding, request.status.as_str()),
        (0, "fulfilled")
    );
}

#[test]
fn received_stock_leaves_other_skus_requests_alone() {
    let other = ReplenishmentRow {
        sku: OTHER_SKU.into(),
        ..open_request(order_id(), 4, 10)
    };
    let batch = given()
        .product(widget())
        .replenishment(other.clone())
        .when(receive(7));
    assert_eq!(batch.written_replenishments(), BTreeMap::new());
    assert_eq!(
        batch.work.replenishments[&(OTHER_SKU.to_owned(), order_id())],
        other
    );
}

#[test]
fn an_adjustment_sets_the_stated_levels_and_keeps_the_backorders() {
    let batch = given()
        .product(ProductRow {
            backordered: 3,
            ..widget()
        })
        .when(StockAdjusted {
            sku: SKU.into(),
            delta: -4,
            reason: "damaged".into(),
            on_hand: 6,
            reserved: 2,
            available: 4,
        });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            on_hand: 6,
            available: 4,
            backordered: 3,
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
}

#[test]
fn a_price_change_sets_the_new_price_only() {
    let batch = given().product(widget()).when(PriceChanged {
        sku: SKU.into(),
        previous_unit_price_cents: 1_250,
        unit_price_cents: 1_400,
        currency: "EUR".into(),
    });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            unit_price_cents: 1_400,
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
}

#[test]
fn a_discontinued_product_says_so_and_keeps_its_stock() {
    let batch = given()
        .product(widget())
        .when(ProductDiscontinued { sku: SKU.into() });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            status: "discontinued".into(),
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
}

#[test]
fn a_reservation_sets_the_stated_levels() {
    let batch = given().product(widget()).when(StockReserved {
        sku: SKU.into(),
        order_id: order_id(),
        quantity: 3,
        on_hand: 10,
        reserved: 5,
        available: 5,
    });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            reserved: 5,
            available: 5,
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
}

#[test]
fn a_backorder_sets_the_products_backordered_units_to_the_stated_total() {
    // The event states the product's total after it, which is taken as it is: never added to
    // what the read model held (here 1, so that adding would show).
    let batch = given()
        .product(ProductRow {
            backordered: 1,
            ..widget()
        })
        .when(StockBackordered {
            sku: SKU.into(),
            order_id: order_id(),
            quantity: 4,
            backordered: 4,
        });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            backordered: 4,
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
}

#[test]
fn a_replenishment_request_opens_a_request_for_its_whole_quantity() {
    let batch = given().product(widget()).when(ReplenishmentRequested {
        sku: SKU.into(),
        order_id: order_id(),
        shortfall: 4,
        quantity: 5,
    });
    assert_eq!(
        batch.written_replenishments(),
        BTreeMap::from([(
            (SKU.to_owned(), order_id()),
            ReplenishmentRow {
                sku: SKU.into(),
                order_id: order_id(),
                quantity: 5,
                outstanding: 5,
                status: "open".into(),
                requested_at: now(),
                position: 1_001,
            }
        )])
    );
    // The product's stream moved on.
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
}

#[test]
fn a_request_made_earlier_in_the_batch_is_fulfilled_by_a_later_receipt() {
    let batch = given()
        .product(widget())
        .when(ReplenishmentRequested {
            sku: SKU.into(),
            order_id: order_id(),
            shortfall: 4,
            quantity: 5,
        })
        .when(receive(2));
    let request = &batch.written_replenishments()[&(SKU.to_owned(), order_id())];
    assert_eq!((request.outstanding, request.status.as_str()), (3, "open"));
}

#[test]
fn a_filled_backorder_sets_the_stated_levels() {
    let batch = given()
        .product(ProductRow {
            backordered: 3,
            ..widget()
        })
        .when(BackorderFilled {
            sku: SKU.into(),
            order_id: order_id(),
            quantity: 3,
            remaining: 0,
            on_hand: 13,
            reserved: 5,
            available: 8,
            backordered: 0,
        });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            on_hand: 13,
            reserved: 5,
            available: 8,
            backordered: 0,
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
}

#[test]
fn released_stock_sets_the_stated_levels() {
    let batch = given()
        .product(ProductRow {
            backordered: 3,
            ..widget()
        })
        .when(StockReleased {
            sku: SKU.into(),
            order_id: order_id(),
            released: 2,
            backorder_withdrawn: 3,
            on_hand: 10,
            reserved: 0,
            available: 10,
            backordered: 0,
        });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            reserved: 0,
            available: 10,
            backordered: 0,
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
}

#[test]
fn shipped_stock_sets_the_stated_levels_and_keeps_the_backorders() {
    let batch = given()
        .product(ProductRow {
            backordered: 1,
            ..widget()
        })
        .when(StockShipped {
            sku: SKU.into(),
            order_id: order_id(),
            quantity: 2,
            on_hand: 8,
            reserved: 0,
            available: 8,
        });
    assert_eq!(
        batch.written_product(SKU),
        ProductRow {
            on_hand: 8,
            reserved: 0,
            available: 8,
            backordered: 1,
            version: VERSION,
            updated_at: now(),
            ..widget()
        }
    );
}

#[test]
fn an_event_about_a_product_the_read_model_lacks_cannot_be_applied() {
    let (batch, error) = given().when_refused(ProductDiscontinued { sku: SKU.into() });
    assert!(
        matches!(
            &error,
            ApplyError::Missing { position: 1_001, event_type, what }
                if event_type == "product.discontinued" && what == "product SKU-1"
        ),
        "{error:?}"
    );
    assert!(batch.work.products.is_empty());
}
