//! The order aggregate, stream `Order`/`{order_id}`: placed once, from lines whose products
//! have already decided what they reserve and backorder.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::values::{Currency, Sku};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Every line is fully reserved.
    Ready,
    /// Some line still waits for stock.
    Backordered,
}

/// A line as placed: what its product reserved and backordered, at the price of the moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub sku: Sku,
    pub quantity: i64,
    pub reserved: i64,
    pub backordered: i64,
    pub unit_price_cents: i64,
    pub currency: Currency,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Order {
    placed: Option<Placed>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Placed {
    status: OrderStatus,
    total_cents: i64,
}

impl Order {
    pub fn is_placed(&self) -> bool {
        self.placed.is_some()
    }

    pub fn status(&self) -> Option<OrderStatus> {
        self.placed.as_ref().map(|p| p.status)
    }

    pub fn total_cents(&self) -> Option<i64> {
        self.placed.as_ref().map(|p| p.total_cents)
    }
}

#[derive(Debug)]
pub enum OrderCommand {
    Place {
        order_id: Uuid,
        customer_id: String,
        lines: Vec<OrderLine>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    OrderPlaced {
        order_id: Uuid,
        customer_id: String,
        currency: Currency,
        total_cents: i64,
        status: OrderStatus,
        lines: Vec<OrderLine>,
    },
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> String {
        match self {
            OrderEvent::OrderPlaced { .. } => "OrderPlaced".to_owned(),
        }
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("an order with this order_id exists")]
    OrderExists,
    #[error("the lines are priced in more than one currency")]
    CurrencyMismatch { currencies: Vec<Currency> },
    #[error("an order needs at least one line")]
    NoLines,
}

impl Aggregate for Order {
    const TYPE: &'static str = "Order";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;
    type Services = ();

    async fn handle(
        &mut self,
        command: OrderCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), OrderError> {
        match command {
            OrderCommand::Place {
                order_id,
                customer_id,
                lines,
            } => {
                if self.is_placed() {
                    return Err(OrderError::OrderExists);
                }
                let mut currencies: Vec<Currency> =
                    lines.iter().map(|l| l.currency.clone()).collect();
                currencies.sort();
                currencies.dedup();
                let currency = match currencies.as_slice() {
                    [] => return Err(OrderError::NoLines),
                    [one] => one.clone(),
                    _ => return Err(OrderError::CurrencyMismatch { currencies }),
                };
                let total_cents = lines.iter().map(|l| l.quantity * l.unit_price_cents).sum();
                let status = if lines.iter().all(|l| l.backordered == 0) {
                    OrderStatus::Ready
                } else {
                    OrderStatus::Backordered
                };
                let event = OrderEvent::OrderPlaced {
                    order_id,
                    customer_id,
                    currency,
                    total_cents,
                    status,
                    lines,
                };
                sink.write(event, self).await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: OrderEvent) {
        match event {
            OrderEvent::OrderPlaced {
                status,
                total_cents,
                ..
            } => {
                self.placed = Some(Placed {
                    status,
                    total_cents,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;

    use super::*;

    fn line(sku: &str, quantity: i64, backordered: i64, currency: &str) -> OrderLine {
        OrderLine {
            sku: Sku::parse(sku).unwrap(),
            quantity,
            reserved: quantity - backordered,
            backordered,
            unit_price_cents: 150,
            currency: Currency::parse(currency).unwrap(),
        }
    }

    fn place(order_id: Uuid, lines: Vec<OrderLine>) -> OrderCommand {
        OrderCommand::Place {
            order_id,
            customer_id: "c-1".into(),
            lines,
        }
    }

    #[test]
    fn an_order_is_ready_when_every_line_is_reserved_and_totals_at_line_prices() {
        let order_id = Uuid::now_v7();
        let lines = vec![line("A", 2, 0, "EUR"), line("B", 1, 0, "EUR")];
        TestFramework::<Order>::with(())
            .given_no_previous_events()
            .when(place(order_id, lines.clone()))
            .then_expect_events(vec![OrderEvent::OrderPlaced {
                order_id,
                customer_id: "c-1".into(),
                currency: Currency::parse("EUR").unwrap(),
                total_cents: 450,
                status: OrderStatus::Ready,
                lines,
            }]);
    }

    #[test]
    fn a_backordered_line_makes_the_order_backordered() {
        let result = TestFramework::<Order>::with(())
            .given_no_previous_events()
            .when(place(Uuid::now_v7(), vec![line("A", 5, 2, "EUR")]))
            .inspect_result()
            .unwrap();
        let [OrderEvent::OrderPlaced { status, .. }] = result.as_slice() else {
            panic!("expected one OrderPlaced, got {result:?}");
        };
        assert_eq!(*status, OrderStatus::Backordered);
    }

    #[test]
    fn lines_in_two_currencies_are_refused() {
        TestFramework::<Order>::with(())
            .given_no_previous_events()
            .when(place(
                Uuid::now_v7(),
                vec![line("A", 1, 0, "EUR"), line("B", 1, 0, "USD")],
            ))
            .then_expect_error(OrderError::CurrencyMismatch {
                currencies: vec![
                    Currency::parse("EUR").unwrap(),
                    Currency::parse("USD").unwrap(),
                ],
            });
    }

    #[test]
    fn an_order_id_is_placed_once() {
        let order_id = Uuid::now_v7();
        let placed = OrderEvent::OrderPlaced {
            order_id,
            customer_id: "c-1".into(),
            currency: Currency::parse("EUR").unwrap(),
            total_cents: 150,
            status: OrderStatus::Ready,
            lines: vec![line("A", 1, 0, "EUR")],
        };
        TestFramework::<Order>::with(())
            .given(vec![placed])
            .when(place(order_id, vec![line("A", 1, 0, "EUR")]))
            .then_expect_error(OrderError::OrderExists);
    }
}
