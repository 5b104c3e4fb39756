//! The product aggregate, stream `Product`/`{sku}`: its stock levels and the reservations
//! order lines make against them.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Reply;
use super::values::{BackorderPolicy, Currency, Sku, replenishment_for};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Product {
    /// None until registered.
    sku: Option<Sku>,
    unit_price_cents: i64,
    currency: Option<Currency>,
    policy: BackorderPolicy,
    discontinued: bool,
    on_hand: i64,
    reserved: i64,
    backordered: i64,
}

impl Product {
    pub fn is_registered(&self) -> bool {
        self.sku.is_some()
    }

    pub fn is_discontinued(&self) -> bool {
        self.discontinued
    }

    pub fn currency(&self) -> Option<&Currency> {
        self.currency.as_ref()
    }

    pub fn policy(&self) -> BackorderPolicy {
        self.policy
    }

    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }

    pub fn reserved(&self) -> i64 {
        self.reserved
    }

    pub fn backordered(&self) -> i64 {
        self.backordered
    }
}

#[derive(Debug)]
pub enum ProductCommand {
    Register {
        sku: Sku,
        name: String,
        unit_price_cents: i64,
        currency: Currency,
        initial_stock: i64,
        backorder_policy: BackorderPolicy,
    },
    /// One order line's claim on this product's stock.
    Reserve {
        order_id: Uuid,
        quantity: i64,
        reply: Reply<Reservation>,
    },
    /// Gives back what a reservation took, when the order it was for could not be placed.
    Release {
        order_id: Uuid,
        reserved: i64,
        backordered: i64,
    },
    Discontinue,
}

/// What a product decided for one order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub reserved: i64,
    pub backordered: i64,
    /// Units asked of the supplier; zero when the line was fully reserved.
    pub replenishment: i64,
    pub unit_price_cents: i64,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductEvent {
    ProductRegistered {
        sku: Sku,
        name: String,
        unit_price_cents: i64,
        currency: Currency,
        initial_stock: i64,
        backorder_policy: BackorderPolicy,
    },
    StockReserved {
        order_id: Uuid,
        quantity: i64,
        unit_price_cents: i64,
        currency: Currency,
        reserved: i64,
        available: i64,
    },
    StockBackordered {
        order_id: Uuid,
        quantity: i64,
        backordered: i64,
    },
    ReplenishmentRequested {
        order_id: Uuid,
        quantity: i64,
    },
    StockReleased {
        order_id: Uuid,
        reserved: i64,
        backordered: i64,
    },
    ProductDiscontinued {},
}

impl DomainEvent for ProductEvent {
    fn event_type(&self) -> String {
        match self {
            ProductEvent::ProductRegistered { .. } => "ProductRegistered",
            ProductEvent::StockReserved { .. } => "StockReserved",
            ProductEvent::StockBackordered { .. } => "StockBackordered",
            ProductEvent::ReplenishmentRequested { .. } => "ReplenishmentRequested",
            ProductEvent::StockReleased { .. } => "StockReleased",
            ProductEvent::ProductDiscontinued { .. } => "ProductDiscontinued",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("a product with this sku is registered already")]
    ProductExists,
    #[error("no product is registered with this sku")]
    UnknownProduct,
    #[error("the product is discontinued")]
    ProductDiscontinued,
    #[error("{requested} units requested, {available} available")]
    InsufficientStock { requested: i64, available: i64 },
}

impl Aggregate for Product {
    const TYPE: &'static str = "Product";
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = ProductError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ProductCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ProductError> {
        match command {
            ProductCommand::Register {
                sku,
                name,
                unit_price_cents,
                currency,
                initial_stock,
                backorder_policy,
            } => {
                if self.is_registered() {
                    return Err(ProductError::ProductExists);
                }
                let event = ProductEvent::ProductRegistered {
                    sku,
                    name,
                    unit_price_cents,
                    currency,
                    initial_stock,
                    backorder_policy,
                };
                sink.write(event, self).await;
            }
            ProductCommand::Reserve {
                order_id,
                quantity,
                reply,
            } => {
                let currency = match (&self.currency, self.discontinued) {
                    (None, _) => return Err(ProductError::UnknownProduct),
                    (Some(_), true) => return Err(ProductError::ProductDiscontinued),
                    (Some(currency), false) => currency.clone(),
                };
                let available = self.available().max(0);
                let (to_reserve, shortfall) = if quantity <= available {
                    (quantity, 0)
                } else if self.policy == BackorderPolicy::Reject {
                    return Err(ProductError::InsufficientStock {
                        requested: quantity,
                        available,
                    });
                } else {
                    (available, quantity - available)
                };
                let unit_price_cents = self.unit_price_cents;
                if to_reserve > 0 {
                    let event = ProductEvent::StockReserved {
                        order_id,
                        quantity: to_reserve,
                        unit_price_cents,
                        currency: currency.clone(),
                        reserved: self.reserved + to_reserve,
                        available: available - to_reserve,
                    };
                    sink.write(event, self).await;
                }
                let replenishment = if shortfall > 0 {
                    let backordered = self.backordered + shortfall;
                    let event = ProductEvent::StockBackordered {
                        order_id,
                        quantity: shortfall,
                        backordered,
                    };
                    sink.write(event, self).await;
                    let replenishment = replenishment_for(shortfall);
                    let event = ProductEvent::ReplenishmentRequested {
                        order_id,
                        quantity: replenishment,
                    };
                    sink.write(event, self).await;
                    replenishment
                } else {
                    0
                };
                reply.set(Reservation {
                    reserved: to_reserve,
                    backordered: shortfall,
                    replenishment,
                    unit_price_cents,
                    currency,
                });
            }
            ProductCommand::Release {
                order_id,
                reserved,
                backordered,
            } => {
                if !self.is_registered() {
                    return Err(ProductError::UnknownProduct);
                }
                let event = ProductEvent::StockReleased {
                    order_id,
                    reserved,
                    backordered,
                };
                sink.write(event, self).await;
            }
            ProductCommand::Discontinue => {
                if !self.is_registered() {
                    return Err(ProductError::UnknownProduct);
                }
                if !self.discontinued {
                    sink.write(ProductEvent::ProductDiscontinued {}, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: ProductEvent) {
        match event {
            ProductEvent::ProductRegistered {
                sku,
                unit_price_cents,
                currency,
                initial_stock,
                backorder_policy,
                ..
            } => {
                self.sku = Some(sku);
                self.unit_price_cents = unit_price_cents;
                self.currency = Some(currency);
                self.on_hand = initial_stock;
                self.policy = backorder_policy;
            }
            ProductEvent::StockReserved { quantity, .. } => self.reserved += quantity,
            ProductEvent::StockBackordered { quantity, .. } => self.backordered += quantity,
            ProductEvent::ReplenishmentRequested { .. } => {}
            ProductEvent::StockReleased {
                reserved,
                backordered,
                ..
            } => {
                self.reserved -= reserved;
                self.backordered -= backordered;
            }
            ProductEvent::ProductDiscontinued {} => self.discontinued = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn registered(stock: i64, policy: BackorderPolicy) -> ProductEvent {
        ProductEvent::ProductRegistered {
            sku: Sku::parse("SKU-1").unwrap(),
            name: "Widget".into(),
            unit_price_cents: 250,
            currency: Currency::parse("EUR").unwrap(),
            initial_stock: stock,
            backorder_policy: policy,
        }
    }

    fn reserve(order_id: Uuid, quantity: i64) -> (ProductCommand, Reply<Reservation>) {
        let reply = Reply::default();
        let command = ProductCommand::Reserve {
            order_id,
            quantity,
            reply: reply.clone(),
        };
        (command, reply)
    }

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn a_line_within_stock_is_reserved() {
        let order_id = Uuid::now_v7();
        let (command, reply) = reserve(order_id, 3);
        TestFramework::<Product>::with(())
            .given(vec![registered(10, BackorderPolicy::Reject)])
            .when(command)
            .then_expect_events(vec![ProductEvent::StockReserved {
                order_id,
                quantity: 3,
                unit_price_cents: 250,
                currency: eur(),
                reserved: 3,
                available: 7,
            }]);
        assert_eq!(
            reply.take(),
            Some(Reservation {
                reserved: 3,
                backordered: 0,
                replenishment: 0,
                unit_price_cents: 250,
                currency: eur(),
            })
        );
    }

    #[test]
    fn a_short_line_under_reject_is_refused_with_what_is_available() {
        let (command, _) = reserve(Uuid::now_v7(), 4);
        TestFramework::<Product>::with(())
            .given(vec![registered(3, BackorderPolicy::Reject)])
            .when(command)
            .then_expect_error(ProductError::InsufficientStock {
                requested: 4,
                available: 3,
            });
    }

    #[test]
    fn a_short_line_under_backorder_reserves_the_rest_and_asks_for_a_fifth_more() {
        let order_id = Uuid::now_v7();
        let (command, reply) = reserve(order_id, 10);
        TestFramework::<Product>::with(())
            .given(vec![registered(3, BackorderPolicy::Backorder)])
            .when(command)
            .then_expect_events(vec![
                ProductEvent::StockReserved {
                    order_id,
                    quantity: 3,
                    unit_price_cents: 250,
                    currency: eur(),
                    reserved: 3,
                    available: 0,
                },
                ProductEvent::StockBackordered {
                    order_id,
                    quantity: 7,
                    backordered: 7,
                },
                ProductEvent::ReplenishmentRequested {
                    order_id,
                    quantity: 9,
                },
            ]);
        let reservation = reply.take().unwrap();
        assert_eq!((reservation.reserved, reservation.backordered), (3, 7));
    }

    #[test]
    fn unknown_and_discontinued_products_take_no_reservation() {
        let (command, _) = reserve(Uuid::now_v7(), 1);
        TestFramework::<Product>::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(ProductError::UnknownProduct);
        let (command, _) = reserve(Uuid::now_v7(), 1);
        TestFramework::<Product>::with(())
            .given(vec![
                registered(10, BackorderPolicy::Reject),
                ProductEvent::ProductDiscontinued {},
            ])
            .when(command)
            .then_expect_error(ProductError::ProductDiscontinued);
    }

    #[test]
    fn a_sku_registers_once() {
        TestFramework::<Product>::with(())
            .given(vec![registered(1, BackorderPolicy::Reject)])
            .when(ProductCommand::Register {
                sku: Sku::parse("SKU-1").unwrap(),
                name: "Another widget".into(),
                unit_price_cents: 100,
                currency: eur(),
                initial_stock: 0,
                backorder_policy: BackorderPolicy::Backorder,
            })
            .then_expect_error(ProductError::ProductExists);
    }
}
