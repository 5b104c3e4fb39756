//! The store as the truth: every event folded into its aggregate, and the domain's
//! invariants checked over the result.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use stockflow_domain::{Order, Product};
use stockflow_event_store::{EventStore, StoredEvent};
use stockflow_events::Event;
use uuid::Uuid;

/// Every product and order as the store's events leave them.
#[derive(Debug, Default)]
pub struct Folded {
    pub products: BTreeMap<String, Product>,
    pub orders: BTreeMap<Uuid, Order>,
}

impl Folded {
    pub fn from_events(events: &[StoredEvent]) -> Folded {
        let mut folded = Folded::default();
        for stored in events {
            let event = Event::decode(
                &stored.event_type,
                u32::try_from(stored.type_version).unwrap_or(0),
                stored.data.clone(),
            )
            .expect("stored events decode");
            if let Some(sku) = stored.stream_id.strip_prefix("product-") {
                let mut state = folded.products.remove(sku);
                Product::apply(&mut state, &event);
                folded.products.insert(
                    sku.to_owned(),
                    state.expect("product streams start with a registration"),
                );
            } else {
                let id: Uuid = stored.stream_id["order-".len()..]
                    .parse()
                    .expect("order streams name a uuid");
                let mut state = folded.orders.remove(&id);
                Order::apply(&mut state, &event);
                folded
                    .orders
                    .insert(id, state.expect("order streams start with a placement"));
            }
        }
        folded
    }

    /// Reads every event of the store behind `db` and folds it.
    pub async fn from_store(db: &mut PgConnection) -> Folded {
        Folded::from_events(&all_events(db).await)
    }
}

/// Every event in the store, in position order.
pub async fn all_events(db: &mut PgConnection) -> Vec<StoredEvent> {
    EventStore::read_after(db, 0, i64::MAX)
        .await
        .expect("events are readable")
}

/// Panics naming every invariant of docs/domain.md#invariants the state breaks.
#[track_caller]
pub fn assert_invariants(folded: &Folded) {
    let broken =
        stockflow_domain::invariants::violations(folded.products.values(), folded.orders.values());
    assert!(broken.is_empty(), "invariants broken: {broken:#?}");
}
