//! The application layer: RegisterProduct and PlaceOrder as sequences of cqrs-es commands,
//! each committed by its own `CqrsFramework`, with optimistic conflicts retried here.

use std::time::Duration;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateError, EventStore};
use postgres_es::{PostgresCqrs, PostgresEventRepository, postgres_cqrs};
use rand::Rng;
use serde::Serialize;
use sqlx_peer::{Pool, Postgres};
use uuid::Uuid;

use crate::domain::{
    BackorderPolicy, Currency, Order, OrderCommand, OrderError, OrderLine, OrderStatus, Product,
    ProductCommand, ProductError, Reply, Reservation, Sku,
};

#[derive(Debug, Clone)]
pub struct RegisterProduct {
    pub sku: Sku,
    pub name: String,
    pub unit_price_cents: i64,
    pub currency: Currency,
    pub initial_stock: i64,
    pub backorder_policy: BackorderPolicy,
}

#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub order_id: Uuid,
    /// Whether the client chose the id: only then can it already be taken.
    pub order_id_given: bool,
    pub customer_id: String,
    pub lines: Vec<LineRequest>,
}

#[derive(Debug, Clone)]
pub struct LineRequest {
    pub sku: Sku,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlacedOrder {
    pub order_id: Uuid,
    pub status: OrderStatus,
    pub currency: Currency,
    pub total_cents: i64,
    pub lines: Vec<PlacedLine>,
    pub replenishments: Vec<Replenishment>,
    /// Events in the order's stream: one, its OrderPlaced.
    pub version: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlacedLine {
    pub sku: Sku,
    pub quantity: i64,
    pub reserved: i64,
    pub backordered: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Replenishment {
    pub sku: Sku,
    pub quantity: i64,
}

/// One line a reject-policy product lacks the stock for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShortLine {
    pub sku: Sku,
    pub requested: i64,
    pub available: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("a product with sku {} is registered already", .0.as_str())]
    ProductExists(Sku),
    #[error("no product is registered for {}", join(.0))]
    UnknownProduct(Vec<Sku>),
    #[error("discontinued: {}", join(.0))]
    ProductDiscontinued(Vec<Sku>),
    #[error("the lines are priced in more than one currency")]
    CurrencyMismatch(Vec<Currency>),
    #[error("not enough stock for {} line(s) of a product that refuses backorders", .0.len())]
    InsufficientStock(Vec<ShortLine>),
    #[error("an order {0} exists already")]
    OrderExists(Uuid),
    #[error("the command kept conflicting with concurrent writers; retry it")]
    ConcurrencyConflict,
    #[error("the event store failed: {0}")]
    Unavailable(String),
}

fn join(skus: &[Sku]) -> String {
    skus.iter().map(Sku::as_str).collect::<Vec<_>>().join(", ")
}

/// Why one cqrs-es command did not commit.
enum Refusal<E> {
    Rule(E),
    Conflict,
    Unavailable(String),
}

impl<E> Refusal<E> {
    /// The refusals every command shares; business rules are the caller's to map.
    fn or_else(self, rule: impl FnOnce(E) -> ServiceError) -> ServiceError {
        match self {
            Refusal::Rule(e) => rule(e),
            Refusal::Conflict => ServiceError::ConcurrencyConflict,
            Refusal::Unavailable(cause) => ServiceError::Unavailable(cause),
        }
    }
}

type Reader<A> = PersistedEventStore<PostgresEventRepository, A>;

fn reader<A: Aggregate>(pool: &Pool<Postgres>) -> Reader<A> {
    PersistedEventStore::new_event_store(PostgresEventRepository::new(pool.clone()))
}

/// The two frameworks, and read-only stores over the same tables for checks made before
/// anything is written.
pub struct Peer {
    products: PostgresCqrs<Product>,
    orders: PostgresCqrs<Order>,
    product_reader: Reader<Product>,
    order_reader: Reader<Order>,
    max_attempts: u32,
}

impl Peer {
    /// Both frameworks with postgres-es's default store, which loads an aggregate by
    /// replaying its whole stream (see the crate docs for why not snapshots).
    pub fn new(pool: Pool<Postgres>, max_attempts: u32) -> Peer {
        Peer {
            products: postgres_cqrs(pool.clone(), vec![], ()),
            orders: postgres_cqrs(pool.clone(), vec![], ()),
            product_reader: reader(&pool),
            order_reader: reader(&pool),
            max_attempts: max_attempts.max(1),
        }
    }

    /// Registers a product; its stream then holds one event, so its version is 1.
    pub async fn register_product(&self, command: RegisterProduct) -> Result<u64, ServiceError> {
        let sku = command.sku.clone();
        self.execute(&self.products, sku.as_str(), || ProductCommand::Register {
            sku: command.sku.clone(),
            name: command.name.clone(),
            unit_price_cents: command.unit_price_cents,
            currency: command.currency.clone(),
            initial_stock: command.initial_stock,
            backorder_policy: command.backorder_policy,
        })
        .await
        .map_err(|refusal| {
            refusal.or_else(|e| match e {
                ProductError::ProductExists => ServiceError::ProductExists(sku.clone()),
                other => ServiceError::Unavailable(format!("unexpected refusal: {other}")),
            })
        })?;
        Ok(1)
    }

    /// Places an order: every line reserved (or backordered) on its product, one commit per
    /// product, then the order placed in a commit of its own. Should a later step be refused,
    /// the reservations already made are released again.
    pub async fn place_order(&self, command: PlaceOrder) -> Result<PlacedOrder, ServiceError> {
        let order_id = command.order_id;
        if command.order_id_given {
            let order = self.load(&self.order_reader, &order_id.to_string()).await?;
            if order.is_placed() {
                return Err(ServiceError::OrderExists(order_id));
            }
        }
        // One line is decided in full by its Reserve command; several need the rules that
        // span lines checked against all their products before any of them is written to.
        if command.lines.len() > 1 {
            self.check_lines(&command.lines).await?;
        }

        let mut reserved: Vec<(LineRequest, Reservation)> = Vec::new();
        for line in &command.lines {
            match self.reserve(order_id, line).await {
                Ok(reservation) => reserved.push((line.clone(), reservation)),
                Err(error) => {
                    self.release(order_id, &reserved).await;
                    return Err(error);
                }
            }
        }

        let lines: Vec<OrderLine> = reserved
            .iter()
            .map(|(line, r)| OrderLine {
                sku: line.sku.clone(),
                quantity: line.quantity,
                reserved: r.reserved,
                backordered: r.backordered,
                unit_price_cents: r.unit_price_cents,
                currency: r.currency.clone(),
            })
            .collect();
        let placed = self
            .execute(&self.orders, &order_id.to_string(), || {
                OrderCommand::Place {
                    order_id,
                    customer_id: command.customer_id.clone(),
                    lines: lines.clone(),
                }
            })
            .await;
        if let Err(refusal) = placed {
            self.release(order_id, &reserved).await;
            return Err(refusal.or_else(|e| match e {
                OrderError::OrderExists => ServiceError::OrderExists(order_id),
                OrderError::CurrencyMismatch { currencies } => {
                    ServiceError::CurrencyMismatch(currencies)
                }
                OrderError::NoLines => ServiceError::Unavailable("an order without lines".into()),
            }));
        }

        let total_cents = lines.iter().map(|l| l.quantity * l.unit_price_cents).sum();
        let status = if lines.iter().all(|l| l.backordered == 0) {
            OrderStatus::Ready
        } else {
            OrderStatus::Backordered
        };
        let replenishments = reserved
            .iter()
            .filter(|(_, r)| r.replenishment > 0)
            .map(|(line, r)| Replenishment {
                sku: line.sku.clone(),
                quantity: r.replenishment,
            })
            .collect();
        Ok(PlacedOrder {
            order_id,
            status,
            currency: lines[0].currency.clone(),
            total_cents,
            lines: lines
                .into_iter()
                .map(|l| PlacedLine {
                    sku: l.sku,
                    quantity: l.quantity,
                    reserved: l.reserved,
                    backordered: l.backordered,
                    unit_price_cents: l.unit_price_cents,
                })
                .collect(),
            replenishments,
            version: 1,
        })
    }

    /// The rules of a multi-line order checked on the products' current state, so that an
    /// order refused for them writes nothing. A concurrent command can still change a product
    /// between this check and its Reserve; that Reserve then decides again and refuses.
    async fn check_lines(&self, lines: &[LineRequest]) -> Result<(), ServiceError> {
        let products = futures_util::future::try_join_all(
            lines
                .iter()
                .map(|line| self.load(&self.product_reader, line.sku.as_str())),
        )
        .await?;
        let unknown: Vec<Sku> = lines
            .iter()
            .zip(&products)
            .filter(|(_, p)| !p.is_registered())
            .map(|(l, _)| l.sku.clone())
            .collect();
        if !unknown.is_empty() {
            return Err(ServiceError::UnknownProduct(unknown));
        }
        let discontinued: Vec<Sku> = lines
            .iter()
            .zip(&products)
            .filter(|(_, p)| p.is_discontinued())
            .map(|(l, _)| l.sku.clone())
            .collect();
        if !discontinued.is_empty() {
            return Err(ServiceError::ProductDiscontinued(discontinued));
        }
        let mut currencies: Vec<Currency> = products
            .iter()
            .filter_map(|p| p.currency().cloned())
            .collect();
        currencies.sort();
        currencies.dedup();
        if currencies.len() > 1 {
            return Err(ServiceError::CurrencyMismatch(currencies));
        }
        let short: Vec<ShortLine> = lines
            .iter()
            .zip(&products)
            .filter(|(l, p)| p.policy() == BackorderPolicy::Reject && l.quantity > p.available())
            .map(|(l, p)| ShortLine {
                sku: l.sku.clone(),
                requested: l.quantity,
                available: p.available().max(0),
            })
            .collect();
        if !short.is_empty() {
            return Err(ServiceError::InsufficientStock(short));
        }
        Ok(())
    }

    async fn reserve(
        &self,
        order_id: Uuid,
        line: &LineRequest,
    ) -> Result<Reservation, ServiceError> {
        let reply = Reply::default();
        let sku = &line.sku;
        self.execute(&self.products, sku.as_str(), || ProductCommand::Reserve {
            order_id,
            quantity: line.quantity,
            reply: reply.clone(),
        })
        .await
        .map_err(|refusal| {
            refusal.or_else(|e| match e {
                ProductError::UnknownProduct => ServiceError::UnknownProduct(vec![sku.clone()]),
                ProductError::ProductDiscontinued => {
                    ServiceError::ProductDiscontinued(vec![sku.clone()])
                }
                ProductError::InsufficientStock {
                    requested,
                    available,
                } => ServiceError::InsufficientStock(vec![ShortLine {
                    sku: sku.clone(),
                    requested,
                    available,
                }]),
                ProductError::ProductExists => {
                    ServiceError::Unavailable("unexpected refusal: product_exists".into())
                }
            })
        })?;
        reply.take().ok_or_else(|| {
            ServiceError::Unavailable("a committed reservation left no decision".into())
        })
    }

    /// The compensation of a PlaceOrder that failed part way: best effort, logged when it
    /// fails too (a saga with a durable log would be needed to guarantee it).
    async fn release(&self, order_id: Uuid, reserved: &[(LineRequest, Reservation)]) {
        for (line, r) in reserved {
            let released = self
                .execute(&self.products, line.sku.as_str(), || {
                    ProductCommand::Release {
                        order_id,
                        reserved: r.reserved,
                        backordered: r.backordered,
                    }
                })
                .await;
            if released.is_err() {
                tracing::error!(
                    %order_id,
                    sku = line.sku.as_str(),
                    reserved = r.reserved,
                    backordered = r.backordered,
                    "could not release the reservation of an order that was not placed"
                );
            }
        }
    }

    async fn load<A: Aggregate>(&self, store: &Reader<A>, id: &str) -> Result<A, ServiceError> {
        store
            .load_aggregate(id)
            .await
            .map(|context| context.aggregate)
            .map_err(|e| ServiceError::Unavailable(e.to_string()))
    }

    /// Executes one command, deciding it again on fresh state when another writer committed
    /// to the same aggregate first (postgres-es's unique key on the event sequence).
    async fn execute<A: Aggregate>(
        &self,
        cqrs: &PostgresCqrs<A>,
        id: &str,
        command: impl Fn() -> A::Command,
    ) -> Result<(), Refusal<A::Error>> {
        for attempt in 1..=self.max_attempts {
            match cqrs.execute(id, command()).await {
                Ok(()) => return Ok(()),
                Err(AggregateError::UserError(e)) => return Err(Refusal::Rule(e)),
                Err(AggregateError::AggregateConflict) => {
                    if attempt < self.max_attempts {
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                }
                Err(other) => return Err(Refusal::Unavailable(other.to_string())),
            }
        }
        Err(Refusal::Conflict)
    }
}

/// Full jitter over a ceiling that doubles from 1 ms up to 64 ms: writers that collided do
/// not collide again in step.
fn backoff(attempt: u32) -> Duration {
    let ceiling_us = 1_000u64 << attempt.min(6);
    Duration::from_micros(rand::rng().random_range(0..=ceiling_us))
}
