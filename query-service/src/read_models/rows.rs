//! The rows of the read models as the API shows them: what the handlers serialize, and so
//! what the OpenAPI document describes (each type's doc comment is its schema's description).
//! Statuses and policies are stored as text; they come back typed, and a value the read side
//! does not know is a decoding error rather than an answer outside the documented set.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::{FromRow, Postgres};
use utoipa::ToSchema;
use uuid::Uuid;

/// `active` or `discontinued`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    Active,
    Discontinued,
}

impl ProductStatus {
    pub const ALL: [ProductStatus; 2] = [ProductStatus::Active, ProductStatus::Discontinued];

    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Discontinued => "discontinued",
        }
    }
}

/// What an order for more than is available does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackorderPolicy {
    Reject,
    Backorder,
}

impl BackorderPolicy {
    pub const ALL: [BackorderPolicy; 2] = [BackorderPolicy::Reject, BackorderPolicy::Backorder];

    pub fn as_str(self) -> &'static str {
        match self {
            BackorderPolicy::Reject => "reject",
            BackorderPolicy::Backorder => "backorder",
        }
    }
}

/// The status of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Ready,
    Backordered,
    Cancelled,
    Shipped,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Ready,
        OrderStatus::Backordered,
        OrderStatus::Cancelled,
        OrderStatus::Shipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Ready => "ready",
            OrderStatus::Backordered => "backordered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Shipped => "shipped",
        }
    }
}

/// `open` until receipts have covered it, then `fulfilled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplenishmentStatus {
    Open,
    Fulfilled,
}

impl ReplenishmentStatus {
    pub const ALL: [ReplenishmentStatus; 2] =
        [ReplenishmentStatus::Open, ReplenishmentStatus::Fulfilled];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplenishmentStatus::Open => "open",
            ReplenishmentStatus::Fulfilled => "fulfilled",
        }
    }
}

/// How `/v1/analytics/sales` groups its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum SalesGrouping {
    Day,
    Sku,
}

impl SalesGrouping {
    pub const ALL: [SalesGrouping; 2] = [SalesGrouping::Day, SalesGrouping::Sku];

    pub fn as_str(self) -> &'static str {
        match self {
            SalesGrouping::Day => "day",
            SalesGrouping::Sku => "sku",
        }
    }
}

/// A stored text that names no value of its type.
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} {value:?} in the read models")]
pub struct UnknownValue {
    kind: &'static str,
    value: String,
}

/// Reading a stored text back as its enum: `TryFrom<String>`, which decoding goes through
/// (so `FromRow` reads the column as the enum, and the query macros do with an override such
/// as `status AS "status: OrderStatus"`). A text naming no value fails to decode.
macro_rules! from_stored_text {
    ($($kind:ident),+) => {$(
        impl TryFrom<String> for $kind {
            type Error = UnknownValue;

            fn try_from(value: String) -> Result<$kind, UnknownValue> {
                $kind::ALL
                    .into_iter()
                    .find(|known| known.as_str() == value)
                    .ok_or(UnknownValue { kind: stringify!($kind), value })
            }
        }

        impl sqlx::Type<Postgres> for $kind {
            fn type_info() -> PgTypeInfo {
                <String as sqlx::Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <String as sqlx::Type<Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, Postgres> for $kind {
            fn decode(value: PgValueRef<'r>) -> Result<$kind, BoxDynError> {
                let text = <String as sqlx::Decode<'r, Postgres>>::decode(value)?;
                Ok($kind::try_from(text)?)
            }
        }
    )+};
}

from_stored_text!(
    ProductStatus,
    BackorderPolicy,
    OrderStatus,
    ReplenishmentStatus
);

/// A product and its stock.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Product {
    #[schema(example = "SKU-1")]
    pub sku: String,
    pub name: String,
    pub unit_price_cents: i64,
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    pub backorder_policy: BackorderPolicy,
    pub status: ProductStatus,
    pub on_hand: i64,
    pub reserved: i64,
    /// `on_hand - reserved`.
    pub available: i64,
    /// Units ordered and waiting for a receipt.
    pub backordered: i64,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// A line of an order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
    /// Units taken from stock.
    pub reserved: i64,
    /// Units waiting for a receipt.
    pub backordered: i64,
    pub unit_price_cents: i64,
}

/// An order with its lines.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    pub order_id: Uuid,
    pub customer_id: String,
    pub status: OrderStatus,
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    pub total_cents: i64,
    pub lines: Vec<OrderLine>,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(required = true)]
    pub shipped_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub cancelled_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub carrier: Option<String>,
    #[schema(required = true)]
    pub tracking_number: Option<String>,
    pub version: i64,
}

/// An order in a listing: no lines, their count instead.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct OrderSummary {
    pub order_id: Uuid,
    pub customer_id: String,
    pub status: OrderStatus,
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    pub total_cents: i64,
    pub line_count: i32,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[schema(required = true)]
    pub shipped_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub cancelled_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub carrier: Option<String>,
    #[schema(required = true)]
    pub tracking_number: Option<String>,
    pub version: i64,
}

/// Where an order listing goes on: newest first, the order id breaking ties. The time is kept
/// in microseconds, PostgreSQL's precision, so the key is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderKey {
    pub placed_at_us: i64,
    pub order_id: Uuid,
}

impl OrderSummary {
    pub fn key(&self) -> OrderKey {
        OrderKey {
            placed_at_us: self.placed_at.timestamp_micros(),
            order_id: self.order_id,
        }
    }
}

/// A customer's orders in figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer {
    pub customer_id: String,
    pub order_count: i64,
    /// Orders neither shipped nor cancelled.
    pub open_order_count: i64,
    /// Cents per currency over the orders not cancelled, e.g. `{"EUR": 12000}`.
    #[schema(example = json!({"EUR": 12000}))]
    pub lifetime_value: BTreeMap<String, i64>,
    pub first_order_at: DateTime<Utc>,
    pub last_order_at: DateTime<Utc>,
}

/// Sales of one UTC day in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow, ToSchema)]
pub struct DaySales {
    pub day: NaiveDate,
    pub currency: String,
    pub orders: i64,
    pub units: i64,
    pub revenue_cents: i64,
}

/// Sales of one sku in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow, ToSchema)]
pub struct SkuSales {
    pub sku: String,
    pub currency: String,
    pub orders: i64,
    pub units: i64,
    pub revenue_cents: i64,
}

/// Sales rows, grouped by day (`group_by=day`, the default) or by sku.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SalesRows {
    ByDay(Vec<DaySales>),
    BySku(Vec<SkuSales>),
}

/// A request to a supplier for a backordered line.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Replenishment {
    pub sku: String,
    pub order_id: Uuid,
    pub quantity: i64,
    /// Units not yet covered by receipts.
    pub outstanding: i64,
    pub status: ReplenishmentStatus,
    pub requested_at: DateTime<Utc>,
    /// The request's place in the store: receipts fulfil in this order.
    #[serde(skip)]
    pub position: i64,
}

/// Where a replenishment listing goes on: oldest request first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplenishmentKey {
    pub position: i64,
    pub sku: String,
    pub order_id: Uuid,
}

impl Replenishment {
    pub fn key(&self) -> ReplenishmentKey {
        ReplenishmentKey {
            position: self.position,
            sku: self.sku.clone(),
            order_id: self.order_id,
        }
    }
}

/// How far the read models are behind the event store.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Projections {
    /// The store's last global position.
    pub head: i64,
    /// The position the read models reflect.
    pub position: i64,
    /// `head - position`.
    pub lag_events: i64,
    pub items: Vec<Projection>,
}

/// One projection's progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Projection {
    pub name: String,
    pub position: i64,
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

/// A projection that stopped advancing, and what stopped it.
#[derive(Debug, Clone, Serialize)]
pub struct StoppedProjection {
    pub name: String,
    pub position: i64,
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use super::*;

    /// The text filters bind and rows are read from is the text the API shows.
    fn same_text<T>(all: &[T], as_str: fn(T) -> &'static str)
    where
        T: Copy + Debug + PartialEq + Serialize + TryFrom<String, Error = UnknownValue>,
    {
        for &value in all {
            assert_eq!(
                serde_json::to_value(value).expect("serializes"),
                as_str(value)
            );
            assert_eq!(
                T::try_from(as_str(value).to_owned()).expect("reads back"),
                value
            );
        }
        assert!(T::try_from("Active ".to_owned()).is_err());
    }

    #[test]
    fn statuses_are_stored_as_they_are_shown() {
        same_text(&ProductStatus::ALL, ProductStatus::as_str);
        same_text(&BackorderPolicy::ALL, BackorderPolicy::as_str);
        same_text(&OrderStatus::ALL, OrderStatus::as_str);
        same_text(&ReplenishmentStatus::ALL, ReplenishmentStatus::as_str);
    }
}
