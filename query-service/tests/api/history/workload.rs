//! Random workloads for the history properties: commands of every kind, decided by the
//! domain against the state the earlier ones left, and appended to the store one transaction
//! each, as the command service does (without its HTTP edge, cache or group commit).

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};
use stockflow_domain::values::{Currency, Sku};
use stockflow_domain::{
    AdjustStock, Aggregates, CancelOrder, ChangePrice, Command, Discontinue, LineRequest, Order,
    PlaceOrder, Product, ReceiveStock, RegisterProduct, ShipOrder, decide,
};
use stockflow_event_store::{AppendBatch, EventStore, NewEvent, StreamWrite};
use stockflow_events::BackorderPolicy;
use uuid::Uuid;

/// One command of a workload; products and orders are picked among those that exist.
#[derive(Debug, Clone)]
pub enum Op {
    Register {
        backorder: bool,
        stock: i64,
        price: i64,
        usd: bool,
    },
    Receive {
        product: Index,
        quantity: i64,
        reference: bool,
    },
    Adjust {
        product: Index,
        delta: i64,
    },
    Reprice {
        product: Index,
        price: i64,
    },
    Discontinue {
        product: Index,
    },
    Place {
        lines: Vec<(Index, i64)>,
    },
    Cancel {
        order: Index,
        reason: bool,
    },
    Ship {
        order: Index,
    },
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (any::<bool>(), 0i64..8, 1i64..2_000, prop::bool::weighted(0.3))
            .prop_map(|(backorder, stock, price, usd)| Op::Register { backorder, stock, price, usd }),
        3 => (any::<Index>(), 1i64..10, any::<bool>())
            .prop_map(|(product, quantity, reference)| Op::Receive { product, quantity, reference }),
        1 => (any::<Index>(), -5i64..6)
            .prop_map(|(product, delta)| Op::Adjust { product, delta }),
        1 => (any::<Index>(), 1i64..2_000).prop_map(|(product, price)| Op::Reprice { product, price }),
        1 => any::<Index>().prop_map(|product| Op::Discontinue { product }),
        5 => prop::collection::vec((any::<Index>(), 1i64..6), 1..4)
            .prop_map(|lines| Op::Place { lines }),
        2 => (any::<Index>(), any::<bool>()).prop_map(|(order, reason)| Op::Cancel { order, reason }),
        2 => any::<Index>().prop_map(|order| Op::Ship { order }),
    ]
}

/// The aggregates as the workload left them, and the streams' versions.
#[derive(Default)]
pub struct State {
    products: HashMap<String, Product>,
    orders: HashMap<Uuid, Order>,
    versions: HashMap<String, i64>,
    skus: Vec<String>,
    order_ids: Vec<Uuid>,
}

impl Aggregates for State {
    fn product(&self, sku: &str) -> Option<&Product> {
        self.products.get(sku)
    }

    fn order(&self, order_id: &Uuid) -> Option<&Order> {
        self.orders.get(order_id)
    }
}

impl State {
    fn sku(&self, index: &Index) -> Option<Sku> {
        (!self.skus.is_empty()).then(|| Sku::parse(index.get::<String>(&self.skus)).expect("a sku"))
    }

    fn order_id(&self, index: &Index) -> Option<Uuid> {
        (!self.order_ids.is_empty()).then(|| *index.get(&self.order_ids))
    }

    /// The command `op` stands for, if what it needs exists.
    fn command(&self, op: &Op) -> Option<Command> {
        Some(match op {
            Op::Register {
                backorder,
                stock,
                price,
                usd,
            } => Command::RegisterProduct(RegisterProduct {
                sku: Sku::parse(&format!("P-{}", self.skus.len() + 1)).expect("a sku"),
                name: "Thing".into(),
                unit_price_cents: *price,
                currency: Currency::parse(if *usd { "USD" } else { "EUR" }).expect("ok"),
                initial_stock: *stock,
                backorder_policy: if *backorder {
                    BackorderPolicy::Backorder
                } else {
                    BackorderPolicy::Reject
                },
            }),
            Op::Receive {
                product,
                quantity,
                reference,
            } => Command::ReceiveStock(ReceiveStock {
                sku: self.sku(product)?,
                quantity: *quantity,
                reference: reference.then(|| "PO, \"1\"".to_owned()),
            }),
            Op::Adjust { product, delta } => Command::AdjustStock(AdjustStock {
                sku: self.sku(product)?,
                delta: if *delta == 0 { 1 } else { *delta },
                reason: "count".into(),
            }),
            Op::Reprice { product, price } => Command::ChangePrice(ChangePrice {
                sku: self.sku(product)?,
                unit_price_cents: *price,
            }),
            Op::Discontinue { product } => Command::Discontinue(Discontinue {
                sku: self.sku(product)?,
            }),
            Op::Place { lines } => {
                let mut requests: Vec<LineRequest> = Vec::new();
                for (product, quantity) in lines {
                    let sku = self.sku(product)?;
                    if requests.iter().all(|l| l.sku != sku) {
                        requests.push(LineRequest {
                            sku,
                            quantity: *quantity,
                        });
                    }
                }
                Command::PlaceOrder(PlaceOrder {
                    order_id: Uuid::now_v7(),
                    customer_id: "C-1".into(),
                    lines: requests,
                })
            }
            Op::Cancel { order, reason } => Command::CancelOrder(CancelOrder {
                order_id: self.order_id(order)?,
                reason: reason.then(|| "changed, \"mind\"".to_owned()),
            }),
            Op::Ship { order } => Command::ShipOrder(ShipOrder {
                order_id: self.order_id(order)?,
                carrier: "DHL".into(),
                tracking_number: "T-1".into(),
            }),
        })
    }

    /// Decides `op` and appends its events in one transaction, as the command service does;
    /// a refusal appends nothing.
    pub async fn run(&mut self, store: &EventStore, op: &Op) {
        let Some(command) = self.command(op) else {
            return;
        };
        let Ok(changes) = decide(&command, &*self) else {
            return;
        };
        let mut batch = AppendBatch::default();
        let mut versions: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        for change in &changes {
            let current = self.versions.get(&change.stream).copied().unwrap_or(0);
            let (_, version) = versions
                .entry(change.stream.clone())
                .or_insert((current, current));
            *version += 1;
            batch.events.push(NewEvent {
                event_id: Uuid::now_v7(),
                stream_id: change.stream.clone(),
                stream_version: *version,
                event_type: change.event.event_type(),
                type_version: change.event.version() as i32,
                data: change.event.data(),
                metadata: json!({}),
            });
        }
        for (stream_id, (expected, new)) in versions {
            batch.streams.push(StreamWrite {
                stream_id: stream_id.clone(),
                expected_version: expected,
                new_version: new,
                snapshot: Value::Null,
                snapshot_schema: 1,
            });
            self.versions.insert(stream_id, new);
        }
        store.append(&batch).await.expect("the only writer appends");
        for change in changes {
            if let Some(sku) = change.stream.strip_prefix("product-") {
                let mut product = self.products.remove(sku);
                Product::apply(&mut product, &change.event);
                if !self.skus.iter().any(|s| s == sku) {
                    self.skus.push(sku.to_owned());
                }
                self.products.extend(product.map(|p| (sku.to_owned(), p)));
            } else if let Some(order_id) = change
                .stream
                .strip_prefix("order-")
                .and_then(|id| id.parse::<Uuid>().ok())
            {
                let mut order = self.orders.remove(&order_id);
                Order::apply(&mut order, &change.event);
                if !self.order_ids.contains(&order_id) {
                    self.order_ids.push(order_id);
                }
                self.orders.extend(order.map(|o| (order_id, o)));
            }
        }
    }
}
