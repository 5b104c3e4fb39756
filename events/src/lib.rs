//! The event contract of stockflow: what happened to products and orders, as downstream
//! subscribers see it. Pure data and (de)serialization; no I/O.
//!
//! Every event has a name (`order.placed`), a type version, and a payload that carries what a
//! subscriber needs without calling back. [`Envelope`] adds identity and position, and
//! [`CloudEvent`] is the structured-mode CloudEvents 1.0 form published on the exchange.

mod cloudevent;
mod envelope;
mod payloads;

pub use cloudevent::{CLOUDEVENTS_CONTENT_TYPE, CloudEvent, EVENT_SOURCE};
pub use envelope::{Envelope, Metadata};
pub use payloads::*;

use serde::{Deserialize, Serialize};

/// Stream id of a product: `product-{sku}`.
pub fn product_stream(sku: &str) -> String {
    format!("product-{sku}")
}

/// Stream id of an order: `order-{order_id}`.
pub fn order_stream(order_id: &uuid::Uuid) -> String {
    format!("order-{order_id}")
}

/// The aggregate an event belongs to; the first part of its routing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    Product,
    Order,
}

impl Aggregate {
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregate::Product => "product",
            Aggregate::Order => "order",
        }
    }
}

/// Why a stored or received event could not be turned back into an [`Event`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type `{name}` version {version}")]
    UnknownType { name: String, version: u32 },
    #[error("event `{name}` v{version} has an invalid payload: {source}")]
    InvalidPayload {
        name: String,
        version: u32,
        #[source]
        source: serde_json::Error,
    },
    #[error("not a stockflow CloudEvent: {0}")]
    InvalidEnvelope(String),
}

/// Declares the event enum from one table, so that each event's name, aggregate and current
/// version are written down exactly once.
macro_rules! events {
    ($( $variant:ident($payload:ident) => $aggregate:ident, $name:literal, version $version:literal; )*) => {
        /// A domain event, at its current type version.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Event {
            $( $variant($payload), )*
        }

        impl Event {
            /// Every event name with its current version, in contract order.
            pub const CATALOGUE: &'static [(Aggregate, &'static str, u32)] = &[
                $( (Aggregate::$aggregate, $name, $version), )*
            ];

            pub fn aggregate(&self) -> Aggregate {
                match self { $( Event::$variant(_) => Aggregate::$aggregate, )* }
            }

            /// The event's name within its aggregate, e.g. `placed`, `stock_reserved`.
            pub fn name(&self) -> &'static str {
                match self { $( Event::$variant(_) => $name, )* }
            }

            /// The type version this payload is written in.
            pub fn version(&self) -> u32 {
                match self { $( Event::$variant(_) => $version, )* }
            }

            /// The payload as JSON.
            pub fn data(&self) -> serde_json::Value {
                let value = match self { $( Event::$variant(p) => serde_json::to_value(p), )* };
                value.expect("event payloads are plain data and always serialize")
            }

            /// Reads a payload written as `aggregate.name` at `version`, upcasting older
            /// versions to the current one.
            pub fn decode(
                event_type: &str,
                version: u32,
                data: serde_json::Value,
            ) -> Result<Event, DecodeError> {
                let data = upcast(event_type, version, data)?;
                match event_type {
                    $( concat!(stringify_aggregate!($aggregate), ".", $name) => {
                        serde_json::from_value(data)
                            .map(Event::$variant)
                            .map_err(|source| DecodeError::InvalidPayload {
                                name: event_type.to_owned(),
                                version,
                                source,
                            })
                    } )*
                    _ => Err(DecodeError::UnknownType { name: event_type.to_owned(), version }),
                }
            }

            /// [`Event::decode`] from the payload's JSON text. A payload of the current
            /// version goes straight into its type, with no `serde_json::Value` in between
            /// (the projector's rebuild reads millions); an older one is upcast as usual.
            pub fn decode_str(
                event_type: &str,
                version: u32,
                json: &str,
            ) -> Result<Event, DecodeError> {
                let invalid = |source| DecodeError::InvalidPayload {
                    name: event_type.to_owned(),
                    version,
                    source,
                };
                match event_type {
                    $( concat!(stringify_aggregate!($aggregate), ".", $name) if version == $version => {
                        serde_json::from_str(json).map(Event::$variant).map_err(invalid)
                    } )*
                    _ => Event::decode(event_type, version, serde_json::from_str(json).map_err(invalid)?),
                }
            }
        }

        $(
            impl From<$payload> for Event {
                fn from(payload: $payload) -> Event { Event::$variant(payload) }
            }
        )*
    };
}

macro_rules! stringify_aggregate {
    (Product) => {
        "product"
    };
    (Order) => {
        "order"
    };
}

events! {
    ProductRegistered(ProductRegistered) => Product, "registered", version 1;
    StockReceived(StockReceived) => Product, "stock_received", version 1;
    StockAdjusted(StockAdjusted) => Product, "stock_adjusted", version 1;
    PriceChanged(PriceChanged) => Product, "price_changed", version 1;
    ProductDiscontinued(ProductDiscontinued) => Product, "discontinued", version 1;
    StockReserved(StockReserved) => Product, "stock_reserved", version 1;
    StockBackordered(StockBackordered) => Product, "stock_backordered", version 1;
    ReplenishmentRequested(ReplenishmentRequested) => Product, "replenishment_requested", version 1;
    BackorderFilled(BackorderFilled) => Product, "backorder_filled", version 1;
    StockReleased(StockReleased) => Product, "stock_released", version 1;
    StockShipped(StockShipped) => Product, "stock_shipped", version 1;
    OrderPlaced(OrderPlaced) => Order, "placed", version 1;
    OrderLineFilled(OrderLineFilled) => Order, "line_filled", version 1;
    OrderReady(OrderReady) => Order, "ready", version 1;
    OrderCancelled(OrderCancelled) => Order, "cancelled", version 1;
    OrderShipped(OrderShipped) => Order, "shipped", version 1;
}

impl Event {
    /// `aggregate.name`, the stored event type and the AMQP routing key, e.g. `order.placed`.
    pub fn event_type(&self) -> String {
        format!("{}.{}", self.aggregate().as_str(), self.name())
    }

    /// The CloudEvents `type`, e.g. `com.stockflow.order.placed.v1`.
    pub fn cloud_type(&self) -> String {
        cloud_type(&self.event_type(), self.version())
    }
}

/// The CloudEvents `type` of an event type at a version.
pub fn cloud_type(event_type: &str, version: u32) -> String {
    format!("com.stockflow.{event_type}.v{version}")
}

/// The routing keys a subscriber's pattern names: a routing key (`order.placed`) names itself,
/// `<aggregate>.*` every event of that aggregate; anything else names none. In contract order.
pub fn routing_keys(pattern: &str) -> Vec<String> {
    Event::CATALOGUE
        .iter()
        .map(|(aggregate, name, _)| (aggregate.as_str(), *name))
        .filter(|(aggregate, name)| {
            pattern.strip_suffix(".*") == Some(*aggregate)
                || pattern.split_once('.') == Some((*aggregate, *name))
        })
        .map(|(aggregate, name)| format!("{aggregate}.{name}"))
        .collect()
}

/// Brings a payload written at an older type version up to the current one. Every published
/// version stays readable: when an event gets a v2, its v1 → v2 step is added here.
fn upcast(
    event_type: &str,
    version: u32,
    data: serde_json::Value,
) -> Result<serde_json::Value, DecodeError> {
    let current = Event::CATALOGUE
        .iter()
        .find(|(aggregate, name, _)| {
            event_type
                .strip_prefix(aggregate.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                == Some(name)
        })
        .map(|(_, _, version)| *version);
    match current {
        Some(current) if current == version => Ok(data),
        _ => Err(DecodeError::UnknownType {
            name: event_type.to_owned(),
            version,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_and_cloud_types_follow_the_contract() {
        let event = Event::from(ReplenishmentRequested {
            sku: "SKU-1".into(),
            order_id: uuid::Uuid::nil(),
            shortfall: 5,
            quantity: 6,
        });
        assert_eq!(event.event_type(), "product.replenishment_requested");
        assert_eq!(
            event.cloud_type(),
            "com.stockflow.product.replenishment_requested.v1"
        );
        let placed = Event::CATALOGUE
            .iter()
            .find(|(a, n, _)| *a == Aggregate::Order && *n == "placed");
        assert_eq!(placed, Some(&(Aggregate::Order, "placed", 1)));
    }

    #[test]
    fn every_catalogued_event_round_trips_through_decode() {
        assert_eq!(Event::CATALOGUE.len(), 16);
        let event = Event::from(OrderReady {
            order_id: uuid::Uuid::now_v7(),
        });
        let decoded = Event::decode(&event.event_type(), event.version(), event.data())
            .expect("decodes its own payload");
        assert_eq!(decoded, event);
    }

    #[test]
    fn unknown_types_versions_and_payloads_are_errors_not_panics() {
        let unknown = Event::decode("order.teleported", 1, serde_json::json!({}));
        assert!(matches!(unknown, Err(DecodeError::UnknownType { .. })));
        let future = Event::decode("order.ready", 9, serde_json::json!({}));
        assert!(matches!(
            future,
            Err(DecodeError::UnknownType { version: 9, .. })
        ));
        let bad = Event::decode("order.ready", 1, serde_json::json!({"order_id": 3}));
        assert!(matches!(bad, Err(DecodeError::InvalidPayload { .. })));
    }

    #[test]
    fn decoding_from_text_agrees_with_decoding_from_a_value() {
        let event = Event::from(StockReceived {
            sku: "SKU-1".into(),
            quantity: 3,
            reference: Some("delivery 7".into()),
            on_hand: 10,
            reserved: 4,
            available: 6,
            backordered: 0,
        });
        let text = event.data().to_string();
        let decoded = Event::decode_str(&event.event_type(), event.version(), &text);
        assert_eq!(decoded.expect("decodes its own payload"), event);
        // The same refusals: text errors only add where in the text the fault is.
        let kind = |e: &DecodeError| match e {
            DecodeError::UnknownType { .. } => "unknown type",
            DecodeError::InvalidPayload { .. } => "invalid payload",
            DecodeError::InvalidEnvelope(_) => "invalid envelope",
        };
        for (event_type, version, json, expected) in [
            ("order.teleported", 1, "{}", "unknown type"),
            ("order.ready", 9, "{}", "unknown type"),
            ("order.ready", 1, r#"{"order_id": 3}"#, "invalid payload"),
            ("order.ready", 1, "{not json", "invalid payload"),
        ] {
            let refused =
                Event::decode_str(event_type, version, json).expect_err("a bad payload is refused");
            assert_eq!(kind(&refused), expected, "{event_type} v{version} {json}");
            if let Ok(value) = serde_json::from_str(json) {
                let from_value = Event::decode(event_type, version, value).expect_err("refused");
                assert_eq!(kind(&from_value), expected);
            }
        }
    }
}
