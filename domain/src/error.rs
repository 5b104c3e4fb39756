//! Refusals: a command that is well formed but cannot be carried out in the current state.

use serde::Serialize;

/// A line an order asked for more of than its product has available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortage {
    pub sku: String,
    pub requested: i64,
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("product {sku} is already registered")]
    ProductExists { sku: String },
    #[error("product {sku} does not exist")]
    ProductNotFound { sku: String },
    #[error("order {order_id} does not exist")]
    OrderNotFound { order_id: uuid::Uuid },
    #[error("order {order_id} already exists")]
    OrderExists { order_id: uuid::Uuid },
    #[error("unknown products: {}", skus.join(", "))]
    UnknownProduct { skus: Vec<String> },
    #[error("discontinued products: {}", skus.join(", "))]
    ProductDiscontinued { skus: Vec<String> },
    #[error("the order's lines are priced in more than one currency: {}", currencies.join(", "))]
    CurrencyMismatch { currencies: Vec<String> },
    #[error("not enough stock for {} line(s)", lines.len())]
    InsufficientStock { lines: Vec<Shortage> },
    #[error("on hand {on_hand} {delta:+} would fall below the {reserved} reserved units")]
    AdjustmentBelowReserved {
        on_hand: i64,
        reserved: i64,
        delta: i64,
    },
    #[error("product {sku} is already discontinued")]
    AlreadyDiscontinued { sku: String },
    #[error("the stock level of {sku} would exceed the largest count this system keeps")]
    StockOverflow { sku: String },
    #[error("order {order_id} is {status} and can no longer be cancelled")]
    OrderNotCancellable {
        order_id: uuid::Uuid,
        status: &'static str,
    },
    #[error("order {order_id} still has backordered units and cannot ship")]
    OrderNotReady { order_id: uuid::Uuid },
    #[error("order {order_id} is cancelled")]
    OrderCancelled { order_id: uuid::Uuid },
    #[error("order {order_id} has already shipped")]
    OrderAlreadyShipped { order_id: uuid::Uuid },
}

impl DomainError {
    /// The problem `code` (docs/api.md): stable, snake_case, for clients to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::ProductExists { .. } => "product_exists",
            DomainError::ProductNotFound { .. } => "product_not_found",
            DomainError::OrderNotFound { .. } => "order_not_found",
            DomainError::OrderExists { .. } => "order_exists",
            DomainError::UnknownProduct { .. } => "unknown_product",
            DomainError::ProductDiscontinued { .. } => "product_discontinued",
            DomainError::CurrencyMismatch { .. } => "currency_mismatch",
            DomainError::InsufficientStock { .. } => "insufficient_stock",
            DomainError::AdjustmentBelowReserved { .. } => "adjustment_below_reserved",
            DomainError::AlreadyDiscontinued { .. } => "already_discontinued",
            DomainError::StockOverflow { .. } => "stock_overflow",
            DomainError::OrderNotCancellable { .. } => "order_not_cancellable",
            DomainError::OrderNotReady { .. } => "order_not_ready",
            DomainError::OrderCancelled { .. } => "order_cancelled",
            DomainError::OrderAlreadyShipped { .. } => "order_already_shipped",
        }
    }
}
