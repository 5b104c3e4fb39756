//! The two aggregates, the cqrs-es way: `handle` decides and writes events to the sink,
//! `apply` only mutates state. Nothing here knows of HTTP or SQL.

pub mod order;
pub mod product;
pub mod values;

use std::sync::{Arc, Mutex, PoisonError};

pub use order::{Order, OrderCommand, OrderError, OrderEvent, OrderLine, OrderStatus};
pub use product::{Product, ProductCommand, ProductError, ProductEvent, Reservation};
pub use values::{BackorderPolicy, Currency, Sku};

/// Where `handle` leaves what it decided, for the caller to read once the events commit.
///
/// `CqrsFramework::execute` answers only "committed" or an error, yet a placed order's
/// response needs what each product decided (reserved, backordered, price). A command
/// carries this cell; `handle` overwrites it on every attempt, so after a successful
/// `execute` it holds the decision of the attempt that committed.
#[derive(Debug, Clone)]
pub struct Reply<T>(Arc<Mutex<Option<T>>>);

impl<T> Default for Reply<T> {
    fn default() -> Self {
        Reply(Arc::new(Mutex::new(None)))
    }
}

impl<T> Reply<T> {
    pub fn set(&self, value: T) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    pub fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
