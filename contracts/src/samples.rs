//! One plausible story told in events, with fixed ids and times: a sample of every event type,
//! for the AsyncAPI examples and for the tests that validate real payloads against the schemas.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use stockflow_events::*;
use uuid::{Uuid, uuid};

const SKU: &str = "WIDGET-1";
const SHIPPED_ORDER: Uuid = uuid!("01946a2b-3c4d-7e5f-8a9b-0c1d2e3f4a5b");
const CANCELLED_ORDER: Uuid = uuid!("01946a2c-1111-7222-8333-444455556666");
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The events of the story in position order, each in its envelope: product WIDGET-1 is
/// registered with 5 units; an order for 8 reserves 5, backorders 3 and asks the supplier for
/// 4; a receipt of 10 fills the backorder and the order ships; a second order is cancelled;
/// then a count correction, a price change and the product is discontinued.
pub fn samples() -> Vec<Envelope> {
    let story: Vec<(Uuid, Event)> = vec![
        (
            command(1),
            ProductRegistered {
                sku: SKU.into(),
                name: "Widget".into(),
                unit_price_cents: 1250,
                currency: "EUR".into(),
                initial_stock: 5,
                backorder_policy: BackorderPolicy::Backorder,
            }
            .into(),
        ),
        (
            command(2),
            StockReserved {
                sku: SKU.into(),
                order_id: SHIPPED_ORDER,
                quantity: 5,
                on_hand: 5,
                reserved: 5,
                available: 0,
            }
            .into(),
        ),
        (
            command(2),
            StockBackordered {
                sku: SKU.into(),
                order_id: SHIPPED_ORDER,
                quantity: 3,
                backordered: 3,
            }
            .into(),
        ),
        (
            command(2),
            ReplenishmentRequested {
                sku: SKU.into(),
                order_id: SHIPPED_ORDER,
                shortfall: 3,
                quantity: 4,
            }
            .into(),
        ),
        (
            command(2),
            OrderPlaced {
                order_id: SHIPPED_ORDER,
                customer_id: "customer-42".into(),
                currency: "EUR".into(),
                total_cents: 10_000,
                status: OrderStatus::Backordered,
                lines: vec![PlacedLine {
                    sku: SKU.into(),
                    quantity: 8,
                    unit_price_cents: 1250,
                    reserved: 5,
                    backordered: 3,
                }],
            }
            .into(),
        ),
        (
            command(3),
            StockReceived {
                sku: SKU.into(),
                quantity: 10,
                reference: Some("PO-1001".into()),
                on_hand: 15,
                reserved: 5,
                available: 10,
                backordered: 3,
            }
            .into(),
        ),
        (
            command(3),
            BackorderFilled {
                sku: SKU.into(),
                order_id: SHIPPED_ORDER,
                quantity: 3,
                remaining: 0,
                on_hand: 15,
                reserved: 8,
                available: 7,
                backordered: 0,
            }
            .into(),
        ),
        (
            command(3),
            OrderLineFilled {
                order_id: SHIPPED_ORDER,
                sku: SKU.into(),
                quantity: 3,
                reserved: 8,
                backordered: 0,
            }
            .into(),
        ),
        (
            command(3),
            OrderReady {
                order_id: SHIPPED_ORDER,
            }
            .into(),
        ),
        (
            command(4),
            StockShipped {
                sku: SKU.into(),
                order_id: SHIPPED_ORDER,
                quantity: 8,
                on_hand: 7,
                reserved: 0,
                available: 7,
            }
            .into(),
        ),
        (
            command(4),
            OrderShipped {
                order_id: SHIPPED_ORDER,
                carrier: "DHL".into(),
                tracking_number: "JD014600006281230155".into(),
                lines: vec![ShippedLine {
                    sku: SKU.into(),
                    quantity: 8,
                }],
            }
            .into(),
        ),
        (
            command(5),
            StockReserved {
                sku: SKU.into(),
                order_id: CANCELLED_ORDER,
                quantity: 2,
                on_hand: 7,
                reserved: 2,
                available: 5,
            }
            .into(),
        ),
        (
            command(5),
            OrderPlaced {
                order_id: CANCELLED_ORDER,
                customer_id: "customer-7".into(),
                currency: "EUR".into(),
                total_cents: 2500,
                status: OrderStatus::Ready,
                lines: vec![PlacedLine {
                    sku: SKU.into(),
                    quantity: 2,
                    unit_price_cents: 1250,
                    reserved: 2,
                    backordered: 0,
                }],
            }
            .into(),
        ),
        (
            command(6),
            StockReleased {
                sku: SKU.into(),
                order_id: CANCELLED_ORDER,
                released: 2,
                backorder_withdrawn: 0,
                on_hand: 7,
                reserved: 0,
                available: 7,
                backordered: 0,
            }
            .into(),
        ),
        (
            command(6),
            OrderCancelled {
                order_id: CANCELLED_ORDER,
                reason: Some("customer changed their mind".into()),
                lines: vec![CancelledLine {
                    sku: SKU.into(),
                    released: 2,
                    backorder_withdrawn: 0,
                }],
            }
            .into(),
        ),
        (
            command(7),
            StockAdjusted {
                sku: SKU.into(),
                delta: -1,
                reason: "damaged in storage".into(),
                on_hand: 6,
                reserved: 0,
                available: 6,
            }
            .into(),
        ),
        (
            command(8),
            PriceChanged {
                sku: SKU.into(),
                previous_unit_price_cents: 1250,
                unit_price_cents: 1400,
                currency: "EUR".into(),
            }
            .into(),
        ),
        (command(9), ProductDiscontinued { sku: SKU.into() }.into()),
    ];

    let mut stream_versions = std::collections::HashMap::<String, i64>::new();
    story
        .into_iter()
        .zip(1_i64..)
        .map(|((causation_id, event), position)| {
            let stream_id = stream_of(&event);
            let stream_version = stream_versions.entry(stream_id.clone()).or_default();
            *stream_version += 1;
            Envelope {
                id: event_id(position),
                stream_id,
                stream_version: *stream_version,
                position,
                recorded_at: recorded_at(causation_id),
                metadata: Metadata {
                    correlation_id: Some(causation_id),
                    causation_id: Some(causation_id),
                    // Only the order's placement came with a trace context.
                    traceparent: (causation_id == command(2)).then(|| TRACEPARENT.to_owned()),
                },
                event,
            }
        })
        .collect()
}

fn stream_of(event: &Event) -> String {
    let data = event.data();
    match event.aggregate() {
        Aggregate::Product => {
            product_stream(data["sku"].as_str().expect("a product event names its sku"))
        }
        Aggregate::Order => {
            let order_id: Uuid = serde_json::from_value(data["order_id"].clone())
                .expect("an order event names its order");
            order_stream(&order_id)
        }
    }
}

/// The id of the n-th command of the story (the request id clients may send).
fn command(n: u128) -> Uuid {
    Uuid::from_u128(0x01946a2a_0000_7000_8000_000000000000 | n)
}

/// A UUID v7 per event, in position order.
fn event_id(position: i64) -> Uuid {
    let position = u128::try_from(position).expect("positions are positive");
    Uuid::from_u128(0x01946a2d_0000_7000_8000_000000000000 | position)
}

/// The events of one command share its commit time; commands are an hour apart.
fn recorded_at(command_id: Uuid) -> DateTime<Utc> {
    let n = i64::try_from(command_id.as_u128() & 0xffff).expect("a small number");
    Utc.with_ymd_and_hms(2025, 1, 15, 9, 0, 0)
        .single()
        .expect("a valid time")
        + TimeDelta::hours(n)
}
