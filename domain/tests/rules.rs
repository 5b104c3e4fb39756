//! Given / when / then tests of the business rules of docs/domain.md, through the crate's public API
//! and with no I/O: an in-memory store folds the given events, `decide` answers the command,
//! and each test states the exact events or the exact refusal that must come back.

use std::collections::{BTreeMap, BTreeSet};

use stockflow_domain::values::{Currency, Sku};
use stockflow_domain::{
    AdjustStock, Aggregates, CancelOrder, Change, ChangePrice, Command, Discontinue, DomainError,
    LineRequest, Order, PlaceOrder, Product, ReceiveStock, RegisterProduct, ShipOrder, Shortage,
    decide, replenishment_quantity, streams_needed,
};
use stockflow_events::{
    Aggregate, BackorderFilled, BackorderPolicy, CancelledLine, Event, OrderCancelled,
    OrderLineFilled, OrderPlaced, OrderReady, OrderShipped, OrderStatus, PlacedLine, PriceChanged,
    ProductDiscontinued, ProductRegistered, ReplenishmentRequested, ShippedLine, StockAdjusted,
    StockBackordered, StockReceived, StockReleased, StockReserved, StockShipped,
};
use uuid::Uuid;

const REJECT: BackorderPolicy = BackorderPolicy::Reject;
const BACKORDER: BackorderPolicy = BackorderPolicy::Backorder;
const CUSTOMER: &str = "C-42";

// ---------------------------------------------------------------------------------------------
// The harness: given events, when a command, then events or a refusal.
// ---------------------------------------------------------------------------------------------

/// Aggregates as the command service would load them: each stream folded with `apply`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Store {
    products: BTreeMap<String, Product>,
    orders: BTreeMap<Uuid, Order>,
}

impl Aggregates for Store {
    fn product(&self, sku: &str) -> Option<&Product> {
        self.products.get(sku)
    }

    fn order(&self, order_id: &Uuid) -> Option<&Order> {
        self.orders.get(order_id)
    }
}

enum Stream {
    Product(String),
    Order(Uuid),
}

fn parse_stream(stream: &str) -> Stream {
    if let Some(sku) = stream.strip_prefix("product-") {
        Stream::Product(sku.to_owned())
    } else if let Some(id) = stream.strip_prefix("order-") {
        Stream::Order(Uuid::parse_str(id).unwrap_or_else(|_| panic!("bad order stream {stream}")))
    } else {
        panic!("unknown stream {stream}")
    }
}

impl Store {
    /// Folds one event into its stream's aggregate. The event must belong to that stream.
    fn append(&mut self, change: &Change) {
        match parse_stream(&change.stream) {
            Stream::Product(sku) => {
                assert_eq!(
                    change.event.aggregate(),
                    Aggregate::Product,
                    "{change:?} is not a product event"
                );
                let mut state = self.products.remove(&sku);
                Product::apply(&mut state, &change.event);
                if let Some(product) = state {
                    assert_eq!(product.sku, sku, "{change:?} landed on another product");
                    self.products.insert(sku, product);
                }
            }
            Stream::Order(order_id) => {
                assert_eq!(
                    change.event.aggregate(),
                    Aggregate::Order,
                    "{change:?} is not an order event"
                );
                let mut state = self.orders.remove(&order_id);
                Order::apply(&mut state, &change.event);
                if let Some(order) = state {
                    assert_eq!(
                        order.order_id, order_id,
                        "{change:?} landed on another order"
                    );
                    self.orders.insert(order_id, order);
                }
            }
        }
    }

    /// What a caller that loaded only these streams would hold.
    fn only(&self, streams: &BTreeSet<String>) -> Store {
        Store {
            products: self
                .products
                .iter()
                .filter(|(sku, _)| streams.contains(&format!("product-{sku}")))
                .map(|(sku, p)| (sku.clone(), p.clone()))
                .collect(),
            orders: self
                .orders
                .iter()
                .filter(|(id, _)| streams.contains(&format!("order-{id}")))
                .map(|(id, o)| (*id, o.clone()))
                .collect(),
        }
    }

    /// The streams a caller ends up loading: it asks `streams_needed`, loads, and asks again
    /// until nothing new is named.
    fn load_needed(&self, command: &Command) -> BTreeSet<String> {
        let mut loaded = BTreeSet::new();
        loop {
            let needed: BTreeSet<String> = streams_needed(command, &self.only(&loaded))
                .into_iter()
                .collect();
            if needed.is_subset(&loaded) {
                return loaded;
            }
            loaded.extend(needed);
        }
    }

    #[track_caller]
    fn when(&self, command: Command) -> When {
        let result = decide(&command, self);
        // The service decides against only what `streams_needed` named, and appends with
        // optimistic concurrency to streams it loaded: the decision must be the same.
        let loaded = self.load_needed(&command);
        let partial = decide(&command, &self.only(&loaded));
        assert_eq!(
            partial, result,
            "{command:?} decides differently on the streams it names ({loaded:?})"
        );
        if let Ok(changes) = &result {
            for change in changes {
                assert!(
                    loaded.contains(&change.stream),
                    "{command:?} writes to {} which streams_needed never named",
                    change.stream
                );
            }
        }
        When {
            before: self.clone(),
            result,
        }
    }

    /// Runs a command that must succeed, for set-up mid-test.
    #[track_caller]
    fn run(&self, command: Command) -> Store {
        self.when(command).then_ok()
    }
}

struct When {
    before: Store,
    result: Result<Vec<Change>, DomainError>,
}

impl When {
    /// Asserts the exact events and returns the store with them applied (and checked).
    #[track_caller]
    fn then(self, expected: Vec<Change>) -> Store {
        let changes = match self.result {
            Ok(changes) => changes,
            Err(e) => panic!("expected events, got the refusal {e:?}"),
        };
        assert_eq!(changes, expected);
        let mut store = self.before;
        apply_checked(&mut store, &changes);
        store
    }

    /// Any events, applied and checked.
    #[track_caller]
    fn then_ok(self) -> Store {
        let changes = self
            .result
            .unwrap_or_else(|e| panic!("expected events, got the refusal {e:?}"));
        let mut store = self.before;
        apply_checked(&mut store, &changes);
        store
    }

    /// Asserts the exact refusal and its problem code. A refusal writes nothing, so the store
    /// is returned as it was.
    #[track_caller]
    fn then_refused(self, expected: DomainError, code: &str) -> Store {
        assert_eq!(self.result, Err(expected));
        assert_eq!(self.result.unwrap_err().code(), code);
        self.before
    }
}

fn given(events: Vec<Change>) -> Store {
    let mut store = Store::default();
    for change in &events {
        store.append(change);
    }
    store
}

/// The events these commands produce in turn, so a given can be stated as what clients did.
#[track_caller]
fn history(commands: Vec<Command>) -> Vec<Change> {
    let mut store = Store::default();
    let mut events = Vec::new();
    for command in commands {
        let changes = decide(&command, &store)
            .unwrap_or_else(|e| panic!("set-up command {command:?} was refused: {e}"));
        apply_checked(&mut store, &changes);
        events.extend(changes);
    }
    events
}

/// Applies a decision event by event, checking that each event states the levels that result
/// from it, then checks the invariants of docs/domain.md.
#[track_caller]
fn apply_checked(store: &mut Store, changes: &[Change]) {
    for change in changes {
        store.append(change);
        assert_stated_levels(store, &change.event);
    }
    assert_invariants(store);
}

#[track_caller]
fn assert_stated_levels(store: &Store, event: &Event) {
    // What the event states (on_hand, reserved, available and, where it carries it,
    // backordered), beside what the store's product holds after it.
    let stated = match event {
        Event::StockReceived(e) => (
            &e.sku,
            e.on_hand,
            e.reserved,
            e.available,
            Some(e.backordered),
        ),
        Event::BackorderFilled(e) => (
            &e.sku,
            e.on_hand,
            e.reserved,
            e.available,
            Some(e.backordered),
        ),
        Event::StockReleased(e) => (
            &e.sku,
            e.on_hand,
            e.reserved,
            e.available,
            Some(e.backordered),
        ),
        Event::StockAdjusted(e) => (&e.sku, e.on_hand, e.reserved, e.available, None),
        Event::StockReserved(e) => (&e.sku, e.on_hand, e.reserved, e.available, None),
        Event::StockShipped(e) => (&e.sku, e.on_hand, e.reserved, e.available, None),
        Event::StockBackordered(e) => {
            let p = &store.products[&e.sku];
            assert_eq!(e.backordered, p.backordered(), "{event:?}");
            return;
        }
        Event::OrderLineFilled(e) => {
            let line = store.orders[&e.order_id].line(&e.sku).expect("filled line");
            assert_eq!(
                (e.reserved, e.backordered),
                (line.reserved, line.backordered)
            );
            return;
        }
        _ => return,
    };
    let (sku, on_hand, reserved, available, backordered) = stated;
    let p = &store.products[sku];
    assert_eq!(
        (on_hand, reserved, available),
        (p.on_hand, p.reserved, p.available()),
        "{event:?}"
    );
    if let Some(backordered) = backordered {
        assert_eq!(backordered, p.backordered(), "{event:?}");
    }
    if let Event::BackorderFilled(e) = event {
        let remaining = p
            .backorders
            .iter()
            .find(|b| b.order_id == e.order_id)
            .map_or(0, |b| b.quantity);
        assert_eq!(e.remaining, remaining, "{event:?}");
    }
}

/// The invariants of docs/domain.md#invariants, checked by the domain's own function.
#[track_caller]
fn assert_invariants(store: &Store) {
    let broken =
        stockflow_domain::invariants::violations(store.products.values(), store.orders.values());
    assert!(broken.is_empty(), "invariants broken: {broken:#?}");
}

// ---------------------------------------------------------------------------------------------
// Commands and events, briefly.
// ---------------------------------------------------------------------------------------------

fn sku(raw: &str) -> Sku {
    Sku::parse(raw).expect("a valid sku")
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn register(sku_: &str, price: i64, stock: i64, policy: BackorderPolicy) -> Command {
    register_in(sku_, price, "EUR", stock, policy)
}

fn register_in(
    sku_: &str,
    price: i64,
    currency: &str,
    stock: i64,
    policy: BackorderPolicy,
) -> Command {
    Command::RegisterProduct(RegisterProduct {
        sku: sku(sku_),
        name: format!("Product {sku_}"),
        unit_price_cents: price,
        currency: Currency::parse(currency).expect("a valid currency"),
        initial_stock: stock,
        backorder_policy: policy,
    })
}

fn receive(sku_: &str, quantity: i64) -> Command {
    Command::ReceiveStock(ReceiveStock {
        sku: sku(sku_),
        quantity,
        reference: None,
    })
}

fn adjust(sku_: &str, delta: i64) -> Command {
    Command::AdjustStock(AdjustStock {
        sku: sku(sku_),
        delta,
        reason: "stocktake".into(),
    })
}

fn change_price(sku_: &str, unit_price_cents: i64) -> Command {
    Command::ChangePrice(ChangePrice {
        sku: sku(sku_),
        unit_price_cents,
    })
}

fn discontinue(sku_: &str) -> Command {
    Command::Discontinue(Discontinue { sku: sku(sku_) })
}

fn place(order_id: Uuid, lines: &[(&str, i64)]) -> Command {
    Command::PlaceOrder(PlaceOrder {
        order_id,
        customer_id: CUSTOMER.into(),
        lines: lines
            .iter()
            .map(|(s, quantity)| LineRequest {
                sku: sku(s),
                quantity: *quantity,
            })
            .collect(),
    })
}

fn cancel(order_id: Uuid) -> Command {
    Command::CancelOrder(CancelOrder {
        order_id,
        reason: None,
    })
}

fn ship(order_id: Uuid) -> Command {
    Command::ShipOrder(ShipOrder {
        order_id,
        carrier: "DHL".into(),
        tracking_number: "TRACK-1".into(),
    })
}

/// The event `register` produces, as a given.
fn registered(sku_: &str, price: i64, stock: i64, policy: BackorderPolicy) -> Change {
    on_product(
        sku_,
        ProductRegistered {
            sku: sku_.into(),
            name: format!("Product {sku_}"),
            unit_price_cents: price,
            currency: "EUR".into(),
            initial_stock: stock,
            backorder_policy: policy,
        },
    )
}

fn on_product(sku_: &str, event: impl Into<Event>) -> Change {
    Change {
        stream: format!("product-{sku_}"),
        event: event.into(),
    }
}

fn on_order(order_id: Uuid, event: impl Into<Event>) -> Change {
    Change {
        stream: format!("order-{order_id}"),
        event: event.into(),
    }
}

fn placed(order_id: Uuid, status: OrderStatus, lines: Vec<PlacedLine>) -> Change {
    let total_cents = lines.iter().map(|l| l.quantity * l.unit_price_cents).sum();
    placed_with_total(order_id, total_cents, status, lines)
}

fn placed_with_total(
    order_id: Uuid,
    total_cents: i64,
    status: OrderStatus,
    lines: Vec<PlacedLine>,
) -> Change {
    on_order(
        order_id,
        OrderPlaced {
            order_id,
            customer_id: CUSTOMER.into(),
            currency: "EUR".into(),
            total_cents,
            status,
            lines,
        },
    )
}

fn line(sku_: &str, quantity: i64, price: i64, reserved: i64, backordered: i64) -> PlacedLine {
    PlacedLine {
        sku: sku_.into(),
        quantity,
        unit_price_cents: price,
        reserved,
        backordered,
    }
}

/// `StockReserved` with its resulting (on_hand, reserved, available).
fn reserved(sku_: &str, order_id: Uuid, quantity: i64, levels: (i64, i64, i64)) -> Change {
    on_product(
        sku_,
        StockReserved {
            sku: sku_.into(),
            order_id,
            quantity,
            on_hand: levels.0,
            reserved: levels.1,
            available: levels.2,
        },
    )
}

fn backordered(sku_: &str, order_id: Uuid, quantity: i64, product_backordered: i64) -> Change {
    on_product(
        sku_,
        StockBackordered {
            sku: sku_.into(),
            order_id,
            quantity,
            backordered: product_backordered,
        },
    )
}

fn replenishment(sku_: &str, order_id: Uuid, shortfall: i64, quantity: i64) -> Change {
    on_product(
        sku_,
        ReplenishmentRequested {
            sku: sku_.into(),
            order_id,
            shortfall,
            quantity,
        },
    )
}

/// `StockReceived` with (on_hand, reserved, available, backordered) before any fill.
fn received(sku_: &str, quantity: i64, levels: (i64, i64, i64, i64)) -> Change {
    on_product(
        sku_,
        StockReceived {
            sku: sku_.into(),
            quantity,
            reference: None,
            on_hand: levels.0,
            reserved: levels.1,
            available: levels.2,
            backordered: levels.3,
        },
    )
}

/// `BackorderFilled` with (on_hand, reserved, available, backordered) after the fill.
fn filled(
    sku_: &str,
    order_id: Uuid,
    quantity: i64,
    remaining: i64,
    levels: (i64, i64, i64, i64),
) -> Change {
    on_product(
        sku_,
        BackorderFilled {
            sku: sku_.into(),
            order_id,
            quantity,
            remaining,
            on_hand: levels.0,
            reserved: levels.1,
            available: levels.2,
            backordered: levels.3,
        },
    )
}

/// `OrderLineFilled` with the line's resulting reserved and backordered units.
fn line_filled(
    order_id: Uuid,
    sku_: &str,
    quantity: i64,
    reserved: i64,
    backordered: i64,
) -> Change {
    on_order(
        order_id,
        OrderLineFilled {
            order_id,
            sku: sku_.into(),
            quantity,
            reserved,
            backordered,
        },
    )
}

fn ready(order_id: Uuid) -> Change {
    on_order(order_id, OrderReady { order_id })
}

fn adjusted(sku_: &str, delta: i64, levels: (i64, i64, i64)) -> Change {
    on_product(
        sku_,
        StockAdjusted {
            sku: sku_.into(),
            delta,
            reason: "stocktake".into(),
            on_hand: levels.0,
            reserved: levels.1,
            available: levels.2,
        },
    )
}

/// `StockReleased` with (on_hand, reserved, available, backordered) after the release.
fn released(
    sku_: &str,
    order_id: Uuid,
    released: i64,
    backorder_withdrawn: i64,
    levels: (i64, i64, i64, i64),
) -> Change {
    on_product(
        sku_,
        StockReleased {
            sku: sku_.into(),
            order_id,
            released,
            backorder_withdrawn,
            on_hand: levels.0,
            reserved: levels.1,
            available: levels.2,
            backordered: levels.3,
        },
    )
}

fn cancelled(order_id: Uuid, lines: &[(&str, i64, i64)]) -> Change {
    on_order(
        order_id,
        OrderCancelled {
            order_id,
            reason: None,
            lines: lines
                .iter()
                .map(|(s, released, withdrawn)| CancelledLine {
                    sku: (*s).into(),
                    released: *released,
                    backorder_withdrawn: *withdrawn,
                })
                .collect(),
        },
    )
}

fn shipped(order_id: Uuid, lines: &[(&str, i64)]) -> Change {
    on_order(
        order_id,
        OrderShipped {
            order_id,
            carrier: "DHL".into(),
            tracking_number: "TRACK-1".into(),
            lines: lines
                .iter()
                .map(|(s, quantity)| ShippedLine {
                    sku: (*s).into(),
                    quantity: *quantity,
                })
                .collect(),
        },
    )
}

fn stock_shipped(sku_: &str, order_id: Uuid, quantity: i64, levels: (i64, i64, i64)) -> Change {
    on_product(
        sku_,
        StockShipped {
            sku: sku_.into(),
            order_id,
            quantity,
            on_hand: levels.0,
            reserved: levels.1,
            available: levels.2,
        },
    )
}

fn levels_of(store: &Store, sku_: &str) -> (i64, i64, i64, i64) {
    let p = store.product(sku_).expect("a registered product");
    (p.on_hand, p.reserved, p.available(), p.backordered())
}

fn status_of(store: &Store, order_id: Uuid) -> OrderStatus {
    store.order(&order_id).expect("a placed order").status
}

// The checks themselves must be able to fail, or every test above proves nothing.

/// What the invariant check finds in a store, as the fault run's checker counts it.
fn violations(store: &Store) -> Vec<String> {
    stockflow_domain::invariants::violations(store.products.values(), store.orders.values())
}

#[test]
fn the_invariant_check_catches_a_reservation_no_open_order_holds() {
    let o1 = id(1);
    let store = given(vec![
        registered("A", 100, 10, REJECT),
        placed(o1, OrderStatus::Ready, vec![line("A", 4, 100, 4, 0)]),
        reserved("A", o1, 4, (10, 4, 6)),
        cancelled(o1, &[("A", 4, 0)]),
    ]);
    assert_eq!(
        violations(&store),
        ["A: reserved 4 but its open orders reserve 0"]
    );
}

#[test]
fn the_invariant_check_catches_a_ready_order_that_still_waits() {
    let o1 = id(1);
    let store = given(vec![
        registered("B", 100, 0, BACKORDER),
        placed(o1, OrderStatus::Ready, vec![line("B", 2, 100, 0, 2)]),
        backordered("B", o1, 2, 2),
    ]);
    assert_eq!(
        violations(&store),
        [format!("order {o1} is ready with units still backordered")]
    );
}

#[test]
fn the_invariant_check_passes_a_consistent_store() {
    let o1 = id(1);
    let store = given(vec![
        registered("C", 100, 1, BACKORDER),
        placed(o1, OrderStatus::Backordered, vec![line("C", 3, 100, 1, 2)]),
        reserved("C", o1, 1, (1, 1, 0)),
        backordered("C", o1, 2, 2),
    ]);
    assert_eq!(violations(&store), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------------
// RegisterProduct
// ---------------------------------------------------------------------------------------------

#[test]
fn registering_a_product_records_its_catalogue_data_and_initial_stock() {
    let store = given(vec![])
        .when(Command::RegisterProduct(RegisterProduct {
            sku: sku("WIDGET-1"),
            name: "Widget".into(),
            unit_price_cents: 1_250,
            currency: Currency::parse("EUR").unwrap(),
            initial_stock: 40,
            backorder_policy: BACKORDER,
        }))
        .then(vec![on_product(
            "WIDGET-1",
            ProductRegistered {
                sku: "WIDGET-1".into(),
                name: "Widget".into(),
                unit_price_cents: 1_250,
                currency: "EUR".into(),
                initial_stock: 40,
                backorder_policy: BACKORDER,
            },
        )]);
    assert_eq!(levels_of(&store, "WIDGET-1"), (40, 0, 40, 0));
}

#[test]
fn registering_a_registered_sku_is_product_exists() {
    given(vec![registered("A", 100, 5, REJECT)])
        .when(register("A", 999, 0, BACKORDER))
        .then_refused(
            DomainError::ProductExists { sku: "A".into() },
            "product_exists",
        );
}

// ---------------------------------------------------------------------------------------------
// ReceiveStock
// ---------------------------------------------------------------------------------------------

#[test]
fn receiving_stock_grows_on_hand_and_states_the_resulting_levels() {
    let store = given(history(vec![
        register("A", 100, 5, REJECT),
        place(id(1), &[("A", 3)]),
    ]));
    let store = store
        .when(Command::ReceiveStock(ReceiveStock {
            sku: sku("A"),
            quantity: 7,
            reference: Some("PO-1".into()),
        }))
        .then(vec![on_product(
            "A",
            StockReceived {
                sku: "A".into(),
                quantity: 7,
                reference: Some("PO-1".into()),
                on_hand: 12,
                reserved: 3,
                available: 9,
                backordered: 0,
            },
        )]);
    assert_eq!(levels_of(&store, "A"), (12, 3, 9, 0));
}

#[test]
fn receiving_stock_of_an_unknown_product_is_product_not_found() {
    given(vec![registered("A", 100, 5, REJECT)])
        .when(receive("NOPE", 1))
        .then_refused(
            DomainError::ProductNotFound { sku: "NOPE".into() },
            "product_not_found",
        );
}

#[test]
fn receipts_fill_backorders_oldest_first_across_orders_partially_then_fully() {
    let (o1, o2, o3) = (id(1), id(2), id(3));
    let store = given(history(vec![
        register("B", 200, 0, BACKORDER),
        place(o1, &[("B", 3)]),
        place(o2, &[("B", 4)]),
        place(o3, &[("B", 5)]),
    ]));
    assert_eq!(levels_of(&store, "B"), (0, 0, 0, 12));

    // 6 units: o1 is filled whole and becomes ready, o2 gets the 3 left, o3 nothing.
    let store = store.when(receive("B", 6)).then(vec![
        received("B", 6, (6, 0, 6, 12)),
        filled("B", o1, 3, 0, (6, 3, 3, 9)),
        line_filled(o1, "B", 3, 3, 0),
        ready(o1),
        filled("B", o2, 3, 1, (6, 6, 0, 6)),
        line_filled(o2, "B", 3, 3, 1),
    ]);
    assert_eq!(status_of(&store, o1), OrderStatus::Ready);
    assert_eq!(status_of(&store, o2), OrderStatus::Backordered);
    assert_eq!(status_of(&store, o3), OrderStatus::Backordered);

    // 10 units: o2's last unit, then all of o3; 4 are left over as available stock.
    let store = store.when(receive("B", 10)).then(vec![
        received("B", 10, (16, 6, 10, 6)),
        filled("B", o2, 1, 0, (16, 7, 9, 5)),
        line_filled(o2, "B", 1, 4, 0),
        ready(o2),
        filled("B", o3, 5, 0, (16, 12, 4, 0)),
        line_filled(o3, "B", 5, 5, 0),
        ready(o3),
    ]);
    assert_eq!(levels_of(&store, "B"), (16, 12, 4, 0));

    // With nothing left waiting a receipt only adds stock.
    store
        .when(receive("B", 2))
        .then(vec![received("B", 2, (18, 12, 6, 0))]);
}

#[test]
fn an_order_with_one_backordered_line_becomes_ready_when_that_line_is_filled() {
    let o1 = id(1);
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        register("B", 200, 1, BACKORDER),
        place(o1, &[("A", 2), ("B", 3)]),
    ]));
    assert_eq!(status_of(&store, o1), OrderStatus::Backordered);

    // A partial fill: the line still waits for one unit, so the order is not ready.
    let store = store.when(receive("B", 1)).then(vec![
        received("B", 1, (2, 1, 1, 2)),
        filled("B", o1, 1, 1, (2, 2, 0, 1)),
        line_filled(o1, "B", 1, 2, 1),
    ]);
    assert_eq!(status_of(&store, o1), OrderStatus::Backordered);

    let store = store.when(receive("B", 5)).then(vec![
        received("B", 5, (7, 2, 5, 1)),
        filled("B", o1, 1, 0, (7, 3, 4, 0)),
        line_filled(o1, "B", 1, 3, 0),
        ready(o1),
    ]);
    assert_eq!(status_of(&store, o1), OrderStatus::Ready);
    store.run(ship(o1));
}

#[test]
fn an_order_backordered_on_two_skus_is_ready_only_once_both_are_filled() {
    let o1 = id(1);
    let store = given(history(vec![
        register("B", 200, 0, BACKORDER),
        register("C", 300, 1, BACKORDER),
        place(o1, &[("B", 2), ("C", 3)]),
    ]));

    let store = store.when(receive("B", 5)).then(vec![
        received("B", 5, (5, 0, 5, 2)),
        filled("B", o1, 2, 0, (5, 2, 3, 0)),
        line_filled(o1, "B", 2, 2, 0),
    ]);
    assert_eq!(status_of(&store, o1), OrderStatus::Backordered);
    store.when(ship(o1)).then_refused(
        DomainError::OrderNotReady { order_id: o1 },
        "order_not_ready",
    );

    let store = store.when(receive("C", 2)).then(vec![
        received("C", 2, (3, 1, 2, 2)),
        filled("C", o1, 2, 0, (3, 3, 0, 0)),
        line_filled(o1, "C", 2, 3, 0),
        ready(o1),
    ]);
    assert_eq!(status_of(&store, o1), OrderStatus::Ready);
}

#[test]
fn receiving_beyond_the_largest_kept_count_is_stock_overflow() {
    let near_limit = i64::MAX / 2 - 5;
    let store = given(vec![registered("A", 100, near_limit, REJECT)]);
    store.when(receive("A", 6)).then_refused(
        DomainError::StockOverflow { sku: "A".into() },
        "stock_overflow",
    );
    store.when(adjust("A", 6)).then_refused(
        DomainError::StockOverflow { sku: "A".into() },
        "stock_overflow",
    );
    store.when(receive("A", 5)).then_ok();
}

// ---------------------------------------------------------------------------------------------
// AdjustStock
// ---------------------------------------------------------------------------------------------

#[test]
fn adjustments_correct_on_hand_up_and_down() {
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        place(id(1), &[("A", 4)]),
    ]));
    let store = store
        .when(adjust("A", 5))
        .then(vec![adjusted("A", 5, (15, 4, 11))]);
    let store = store
        .when(adjust("A", -3))
        .then(vec![adjusted("A", -3, (12, 4, 8))]);
    assert_eq!(levels_of(&store, "A"), (12, 4, 8, 0));
}

#[test]
fn an_adjustment_may_reach_reserved_but_not_go_below_it() {
    let store = given(history(vec![
        register("A", 100, 12, REJECT),
        place(id(1), &[("A", 4)]),
    ]));
    store.when(adjust("A", -9)).then_refused(
        DomainError::AdjustmentBelowReserved {
            on_hand: 12,
            reserved: 4,
            delta: -9,
        },
        "adjustment_below_reserved",
    );
    let store = store
        .when(adjust("A", -8))
        .then(vec![adjusted("A", -8, (4, 4, 0))]);
    store.when(adjust("A", -1)).then_refused(
        DomainError::AdjustmentBelowReserved {
            on_hand: 4,
            reserved: 4,
            delta: -1,
        },
        "adjustment_below_reserved",
    );
}

#[test]
fn with_nothing_reserved_an_adjustment_may_not_make_on_hand_negative() {
    let store = given(vec![registered("A", 100, 3, REJECT)]);
    store.when(adjust("A", -4)).then_refused(
        DomainError::AdjustmentBelowReserved {
            on_hand: 3,
            reserved: 0,
            delta: -4,
        },
        "adjustment_below_reserved",
    );
    store
        .when(adjust("A", -3))
        .then(vec![adjusted("A", -3, (0, 0, 0))]);
}

#[test]
fn catalogue_commands_on_an_unknown_product_are_product_not_found() {
    let store = given(vec![registered("A", 100, 3, REJECT)]);
    let not_found = || DomainError::ProductNotFound { sku: "NOPE".into() };
    for command in [
        adjust("NOPE", 1),
        change_price("NOPE", 10),
        discontinue("NOPE"),
    ] {
        store
            .when(command)
            .then_refused(not_found(), "product_not_found");
    }
}

// ---------------------------------------------------------------------------------------------
// ChangePrice
// ---------------------------------------------------------------------------------------------

#[test]
fn a_price_change_applies_to_later_orders_only() {
    let (o1, o2) = (id(1), id(2));
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        place(o1, &[("A", 2)]),
    ]));
    let store = store.when(change_price("A", 150)).then(vec![on_product(
        "A",
        PriceChanged {
            sku: "A".into(),
            previous_unit_price_cents: 100,
            unit_price_cents: 150,
            currency: "EUR".into(),
        },
    )]);
    let store = store.when(place(o2, &[("A", 3)])).then(vec![
        placed_with_total(o2, 450, OrderStatus::Ready, vec![line("A", 3, 150, 3, 0)]),
        reserved("A", o2, 3, (10, 5, 5)),
    ]);
    let earlier = store.order(&o1).unwrap();
    assert_eq!(earlier.lines[0].unit_price_cents, 100);
    assert_eq!(earlier.total_cents, 200);
}

// ---------------------------------------------------------------------------------------------
// Discontinue
// ---------------------------------------------------------------------------------------------

#[test]
fn a_discontinued_product_refuses_later_orders_and_a_second_discontinuation() {
    let store = given(vec![
        registered("A", 100, 10, REJECT),
        registered("X", 100, 10, REJECT),
    ]);
    let store = store.when(discontinue("A")).then(vec![on_product(
        "A",
        ProductDiscontinued { sku: "A".into() },
    )]);
    store
        .when(place(id(1), &[("X", 1), ("A", 1)]))
        .then_refused(
            DomainError::ProductDiscontinued {
                skus: vec!["A".into()],
            },
            "product_discontinued",
        );
    store.when(discontinue("A")).then_refused(
        DomainError::AlreadyDiscontinued { sku: "A".into() },
        "already_discontinued",
    );
    // The other product still sells.
    store.run(place(id(2), &[("X", 1)]));
}

#[test]
fn discontinuing_leaves_open_orders_to_ship_cancel_and_fill() {
    let (o1, o2, o3) = (id(1), id(2), id(3));
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        register("B", 200, 0, BACKORDER),
        place(o1, &[("A", 2)]),
        place(o2, &[("B", 3)]),
        place(o3, &[("A", 1)]),
        discontinue("A"),
        discontinue("B"),
    ]));
    let store = store.when(ship(o1)).then(vec![
        shipped(o1, &[("A", 2)]),
        stock_shipped("A", o1, 2, (8, 1, 7)),
    ]);
    let store = store.when(cancel(o3)).then(vec![
        cancelled(o3, &[("A", 1, 0)]),
        released("A", o3, 1, 0, (8, 0, 8, 0)),
    ]);
    let store = store.when(receive("B", 3)).then(vec![
        received("B", 3, (3, 0, 3, 3)),
        filled("B", o2, 3, 0, (3, 3, 0, 0)),
        line_filled(o2, "B", 3, 3, 0),
        ready(o2),
    ]);
    store.when(ship(o2)).then(vec![
        shipped(o2, &[("B", 3)]),
        stock_shipped("B", o2, 3, (0, 0, 0)),
    ]);
}

// ---------------------------------------------------------------------------------------------
// PlaceOrder
// ---------------------------------------------------------------------------------------------

#[test]
fn an_order_within_available_stock_reserves_every_line_and_is_ready() {
    let o1 = id(1);
    let store = given(vec![
        registered("A", 100, 5, REJECT),
        registered("B", 250, 10, BACKORDER),
    ]);
    // A asks for exactly what is available: that is still enough.
    let store = store.when(place(o1, &[("A", 5), ("B", 2)])).then(vec![
        placed_with_total(
            o1,
            1_000,
            OrderStatus::Ready,
            vec![line("A", 5, 100, 5, 0), line("B", 2, 250, 2, 0)],
        ),
        reserved("A", o1, 5, (5, 5, 0)),
        reserved("B", o1, 2, (10, 2, 8)),
    ]);
    assert_eq!(levels_of(&store, "A"), (5, 5, 0, 0));
    assert_eq!(levels_of(&store, "B"), (10, 2, 8, 0));
}

#[test]
fn a_short_reject_line_refuses_the_whole_order_listing_every_short_line() {
    let store = given(history(vec![
        register("A", 100, 5, REJECT),
        register("B", 100, 10, REJECT),
        register("C", 100, 4, REJECT),
        place(id(1), &[("C", 3)]),
    ]));
    // C has 4 on hand but 3 reserved: the shortage reports what is available, not on hand.
    let store = store
        .when(place(id(2), &[("A", 6), ("B", 2), ("C", 2)]))
        .then_refused(
            DomainError::InsufficientStock {
                lines: vec![
                    Shortage {
                        sku: "A".into(),
                        requested: 6,
                        available: 5,
                    },
                    Shortage {
                        sku: "C".into(),
                        requested: 2,
                        available: 1,
                    },
                ],
            },
            "insufficient_stock",
        );
    // Nothing was written: B's stock is untouched, and the order id is still free.
    assert_eq!(levels_of(&store, "B"), (10, 0, 10, 0));
    assert!(store.order(&id(2)).is_none());
    store.run(place(id(2), &[("A", 5), ("B", 10), ("C", 1)]));
}

#[test]
fn a_short_reject_line_also_refuses_the_backorderable_lines_beside_it() {
    let store = given(vec![
        registered("A", 100, 1, REJECT),
        registered("B", 100, 0, BACKORDER),
    ]);
    store
        .when(place(id(1), &[("B", 5), ("A", 2)]))
        .then_refused(
            DomainError::InsufficientStock {
                lines: vec![Shortage {
                    sku: "A".into(),
                    requested: 2,
                    available: 1,
                }],
            },
            "insufficient_stock",
        );
}

#[test]
fn a_short_backorder_line_reserves_what_is_there_and_asks_for_the_rest_plus_20_percent() {
    let (o1, o2) = (id(1), id(2));
    let store = given(vec![registered("B", 200, 3, BACKORDER)]);
    let store = store.when(place(o1, &[("B", 10)])).then(vec![
        placed(o1, OrderStatus::Backordered, vec![line("B", 10, 200, 3, 7)]),
        reserved("B", o1, 3, (3, 3, 0)),
        backordered("B", o1, 7, 7),
        replenishment("B", o1, 7, 9),
    ]);
    // Nothing available: no reservation at all; the backorder queues behind o1's.
    let store = store.when(place(o2, &[("B", 4)])).then(vec![
        placed_with_total(
            o2,
            800,
            OrderStatus::Backordered,
            vec![line("B", 4, 200, 0, 4)],
        ),
        backordered("B", o2, 4, 11),
        replenishment("B", o2, 4, 5),
    ]);
    assert_eq!(levels_of(&store, "B"), (3, 3, 0, 11));
    let fifo: Vec<(Uuid, i64)> = (store.product("B").unwrap().backorders.iter())
        .map(|b| (b.order_id, b.quantity))
        .collect();
    assert_eq!(fifo, vec![(o1, 7), (o2, 4)]);
}

#[test]
fn replenishment_rounds_the_shortfall_plus_20_percent_up() {
    for (shortfall, asked) in [(1, 2), (5, 6), (7, 9), (10, 12)] {
        let o1 = id(1);
        // Some units available...
        given(vec![registered("B", 200, 3, BACKORDER)])
            .when(place(o1, &[("B", 3 + shortfall)]))
            .then(vec![
                placed(
                    o1,
                    OrderStatus::Backordered,
                    vec![line("B", 3 + shortfall, 200, 3, shortfall)],
                ),
                reserved("B", o1, 3, (3, 3, 0)),
                backordered("B", o1, shortfall, shortfall),
                replenishment("B", o1, shortfall, asked),
            ]);
        // ...and none.
        given(vec![registered("B", 200, 0, BACKORDER)])
            .when(place(o1, &[("B", shortfall)]))
            .then(vec![
                placed(
                    o1,
                    OrderStatus::Backordered,
                    vec![line("B", shortfall, 200, 0, shortfall)],
                ),
                backordered("B", o1, shortfall, shortfall),
                replenishment("B", o1, shortfall, asked),
            ]);
    }
}

#[test]
fn replenishment_quantity_is_ceil_of_120_percent_over_the_whole_range() {
    // ceil(s × 1.2) without floats: ceil(12 s / 10).
    let reference = |s: i64| (s * 12 + 9) / 10;
    for shortfall in 0..=20_000 {
        assert_eq!(
            replenishment_quantity(shortfall),
            reference(shortfall),
            "shortfall {shortfall}"
        );
    }
    for shortfall in [999_999_999, 1_000_000_000, 123_456_789] {
        assert_eq!(replenishment_quantity(shortfall), reference(shortfall));
    }
}

#[test]
fn an_order_mixing_ready_and_backordered_lines_is_backordered_and_totals_every_unit() {
    let o1 = id(1);
    given(vec![
        registered("A", 199, 10, REJECT),
        registered("B", 1_000, 2, BACKORDER),
    ])
    .when(place(o1, &[("A", 3), ("B", 7)]))
    .then(vec![
        placed_with_total(
            o1,
            3 * 199 + 7 * 1_000,
            OrderStatus::Backordered,
            vec![line("A", 3, 199, 3, 0), line("B", 7, 1_000, 2, 5)],
        ),
        reserved("A", o1, 3, (10, 3, 7)),
        reserved("B", o1, 2, (2, 2, 0)),
        backordered("B", o1, 5, 5),
        replenishment("B", o1, 5, 6),
    ]);
}

#[test]
fn an_order_for_unknown_skus_is_unknown_product_listing_them() {
    given(vec![registered("A", 100, 10, REJECT)])
        .when(place(id(1), &[("X", 1), ("A", 1), ("Y", 2)]))
        .then_refused(
            DomainError::UnknownProduct {
                skus: vec!["X".into(), "Y".into()],
            },
            "unknown_product",
        );
}

#[test]
fn an_order_in_two_currencies_is_currency_mismatch() {
    let store = given(history(vec![
        register_in("A", 100, "EUR", 10, REJECT),
        register_in("U", 100, "USD", 10, REJECT),
        register_in("V", 300, "USD", 10, REJECT),
    ]));
    store
        .when(place(id(1), &[("U", 1), ("A", 1)]))
        .then_refused(
            DomainError::CurrencyMismatch {
                currencies: vec!["EUR".into(), "USD".into()],
            },
            "currency_mismatch",
        );
    // One currency other than EUR is fine, and the order carries it.
    let o2 = id(2);
    store.when(place(o2, &[("U", 1), ("V", 2)])).then(vec![
        on_order(
            o2,
            OrderPlaced {
                order_id: o2,
                customer_id: CUSTOMER.into(),
                currency: "USD".into(),
                total_cents: 700,
                status: OrderStatus::Ready,
                lines: vec![line("U", 1, 100, 1, 0), line("V", 2, 300, 2, 0)],
            },
        ),
        reserved("U", o2, 1, (10, 1, 9)),
        reserved("V", o2, 2, (10, 2, 8)),
    ]);
}

#[test]
fn placing_an_order_id_twice_is_order_exists() {
    let o1 = id(1);
    given(history(vec![
        register("A", 100, 10, REJECT),
        place(o1, &[("A", 1)]),
    ]))
    .when(place(o1, &[("A", 1)]))
    .then_refused(DomainError::OrderExists { order_id: o1 }, "order_exists");
}

// ---------------------------------------------------------------------------------------------
// CancelOrder
// ---------------------------------------------------------------------------------------------

#[test]
fn cancelling_a_ready_order_releases_its_reserved_units() {
    let o1 = id(1);
    let store = given(vec![
        registered("A", 100, 10, REJECT),
        placed(o1, OrderStatus::Ready, vec![line("A", 4, 100, 4, 0)]),
        reserved("A", o1, 4, (10, 4, 6)),
    ]);
    let store = store
        .when(Command::CancelOrder(CancelOrder {
            order_id: o1,
            reason: Some("changed my mind".into()),
        }))
        .then(vec![
            on_order(
                o1,
                OrderCancelled {
                    order_id: o1,
                    reason: Some("changed my mind".into()),
                    lines: vec![CancelledLine {
                        sku: "A".into(),
                        released: 4,
                        backorder_withdrawn: 0,
                    }],
                },
            ),
            released("A", o1, 4, 0, (10, 0, 10, 0)),
        ]);
    assert_eq!(status_of(&store, o1), OrderStatus::Cancelled);
}

#[test]
fn cancelling_a_backordered_order_withdraws_its_backorders_from_later_receipts() {
    let (o1, o2) = (id(1), id(2));
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        register("B", 200, 2, BACKORDER),
        place(o1, &[("A", 3), ("B", 5)]),
        place(o2, &[("B", 4)]),
    ]));
    assert_eq!(levels_of(&store, "B"), (2, 2, 0, 7));

    let store = store.when(cancel(o1)).then(vec![
        cancelled(o1, &[("A", 3, 0), ("B", 2, 3)]),
        released("A", o1, 3, 0, (10, 0, 10, 0)),
        released("B", o1, 2, 3, (2, 0, 2, 4)),
    ]);
    assert_eq!(levels_of(&store, "B"), (2, 0, 2, 4));

    // The receipt goes to o2, the only order still waiting; o1 gets nothing.
    let store = store.when(receive("B", 4)).then(vec![
        received("B", 4, (6, 0, 6, 4)),
        filled("B", o2, 4, 0, (6, 4, 2, 0)),
        line_filled(o2, "B", 4, 4, 0),
        ready(o2),
    ]);
    assert_eq!(status_of(&store, o1), OrderStatus::Cancelled);
}

#[test]
fn after_its_only_backorder_is_cancelled_a_receipt_fills_nothing() {
    let o1 = id(1);
    let store = given(history(vec![
        register("B", 200, 0, BACKORDER),
        place(o1, &[("B", 5)]),
    ]));
    let store = store.when(cancel(o1)).then(vec![
        cancelled(o1, &[("B", 0, 5)]),
        released("B", o1, 0, 5, (0, 0, 0, 0)),
    ]);
    store
        .when(receive("B", 5))
        .then(vec![received("B", 5, (5, 0, 5, 0))]);
}

#[test]
fn only_open_orders_can_be_cancelled() {
    let (o1, o2) = (id(1), id(2));
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        place(o1, &[("A", 1)]),
        place(o2, &[("A", 1)]),
        cancel(o1),
        ship(o2),
    ]));
    store.when(cancel(o1)).then_refused(
        DomainError::OrderNotCancellable {
            order_id: o1,
            status: "cancelled",
        },
        "order_not_cancellable",
    );
    store.when(cancel(o2)).then_refused(
        DomainError::OrderNotCancellable {
            order_id: o2,
            status: "shipped",
        },
        "order_not_cancellable",
    );
    store.when(cancel(id(99))).then_refused(
        DomainError::OrderNotFound { order_id: id(99) },
        "order_not_found",
    );
}

// ---------------------------------------------------------------------------------------------
// ShipOrder
// ---------------------------------------------------------------------------------------------

#[test]
fn shipping_a_ready_order_takes_its_units_out_of_on_hand_and_reserved() {
    let (o0, o1) = (id(100), id(1));
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        register("B", 200, 5, BACKORDER),
        place(o0, &[("A", 1)]),
        place(o1, &[("A", 4), ("B", 5)]),
    ]));
    let store = store.when(ship(o1)).then(vec![
        shipped(o1, &[("A", 4), ("B", 5)]),
        stock_shipped("A", o1, 4, (6, 1, 5)),
        stock_shipped("B", o1, 5, (0, 0, 0)),
    ]);
    assert_eq!(status_of(&store, o1), OrderStatus::Shipped);
    assert_eq!(levels_of(&store, "A"), (6, 1, 5, 0));
}

#[test]
fn only_ready_orders_ship() {
    let (waiting, gone, sent) = (id(1), id(2), id(3));
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        register("B", 200, 0, BACKORDER),
        place(waiting, &[("A", 1), ("B", 1)]),
        place(gone, &[("A", 1)]),
        place(sent, &[("A", 1)]),
        cancel(gone),
        ship(sent),
    ]));
    store.when(ship(waiting)).then_refused(
        DomainError::OrderNotReady { order_id: waiting },
        "order_not_ready",
    );
    store.when(ship(gone)).then_refused(
        DomainError::OrderCancelled { order_id: gone },
        "order_cancelled",
    );
    store.when(ship(sent)).then_refused(
        DomainError::OrderAlreadyShipped { order_id: sent },
        "order_already_shipped",
    );
    store.when(ship(id(99))).then_refused(
        DomainError::OrderNotFound { order_id: id(99) },
        "order_not_found",
    );
}

// ---------------------------------------------------------------------------------------------
// streams_needed
// ---------------------------------------------------------------------------------------------

fn order_stream(order_id: Uuid) -> String {
    format!("order-{order_id}")
}

#[test]
fn a_receipt_names_its_product_and_the_orders_whose_backorders_it_reaches() {
    let (o1, o2, o3) = (id(1), id(2), id(3));
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        register("B", 200, 0, BACKORDER),
        place(o1, &[("B", 3)]),
        place(o2, &[("B", 4)]),
        place(o3, &[("B", 5)]),
    ]));
    let b = || "product-B".to_owned();
    let cases = [
        (1, vec![b(), order_stream(o1)]),
        (3, vec![b(), order_stream(o1)]),
        (4, vec![b(), order_stream(o1), order_stream(o2)]),
        (7, vec![b(), order_stream(o1), order_stream(o2)]),
        (
            8,
            vec![b(), order_stream(o1), order_stream(o2), order_stream(o3)],
        ),
        (
            100,
            vec![b(), order_stream(o1), order_stream(o2), order_stream(o3)],
        ),
    ];
    for (quantity, expected) in cases {
        assert_eq!(
            streams_needed(&receive("B", quantity), &store),
            expected,
            "receipt of {quantity}"
        );
    }
    // Before the product is loaded only the product can be named.
    assert_eq!(
        streams_needed(&receive("B", 100), &Store::default()),
        vec![b()]
    );
    assert_eq!(
        streams_needed(&receive("A", 100), &store),
        vec!["product-A".to_owned()]
    );
}

#[test]
fn cancel_and_ship_name_the_order_then_its_products_once_it_is_loaded() {
    let o1 = id(1);
    let store = given(history(vec![
        register("A", 100, 10, REJECT),
        register("B", 200, 10, REJECT),
        place(o1, &[("A", 1), ("B", 1)]),
    ]));
    for command in [cancel(o1), ship(o1)] {
        assert_eq!(
            streams_needed(&command, &Store::default()),
            vec![order_stream(o1)]
        );
        assert_eq!(
            streams_needed(&command, &store),
            vec![order_stream(o1), "product-A".into(), "product-B".into()]
        );
    }
}

#[test]
fn placing_names_the_order_and_every_product_and_catalogue_commands_their_product() {
    let o1 = id(1);
    assert_eq!(
        streams_needed(&place(o1, &[("A", 1), ("B", 1)]), &Store::default()),
        vec![order_stream(o1), "product-A".into(), "product-B".into()]
    );
    for command in [
        register("A", 1, 0, REJECT),
        adjust("A", 1),
        change_price("A", 1),
        discontinue("A"),
    ] {
        assert_eq!(
            streams_needed(&command, &Store::default()),
            vec!["product-A".to_owned()]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A seeded pseudo-random run: every step decided, applied and checked.
// ---------------------------------------------------------------------------------------------

/// xorshift64: enough randomness to shuffle commands, and the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A value in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

const SKUS: [&str; 3] = ["A", "B", "C"];

#[derive(Default)]
struct Tally {
    succeeded: BTreeMap<&'static str, usize>,
    refused: BTreeMap<&'static str, usize>,
    readied_by_receipt: usize,
}

/// What the rules say a placement must come to, worked out from the state before it.
fn expected_placement(
    store: &Store,
    order_id: Uuid,
    lines: &[(&str, i64)],
) -> Option<&'static str> {
    if store.order(&order_id).is_some() {
        return Some("order_exists");
    }
    let products: Vec<Option<&Product>> = lines.iter().map(|(s, _)| store.product(s)).collect();
    if products.iter().any(Option::is_none) {
        return Some("unknown_product");
    }
    let products: Vec<&Product> = products.into_iter().flatten().collect();
    if products.iter().any(|p| p.discontinued) {
        return Some("product_discontinued");
    }
    let short = lines
        .iter()
        .zip(&products)
        .any(|((_, q), p)| *q > p.available() && p.backorder_policy == REJECT);
    short.then_some("insufficient_stock")
}

fn random_run(seed: u64, steps: usize) -> Tally {
    let mut rng = Rng(seed);
    let mut store = given(history(vec![
        register("A", 150, 20, REJECT),
        register("B", 300, 5, BACKORDER),
        register("C", 75, 0, BACKORDER),
    ]));
    let mut tally = Tally::default();
    // Order ids are handed out in placement order, so a FIFO must list them ascending.
    let mut next_order: u128 = 1;
    for step in 0..steps {
        // Cancels and ships aim at the ~50 most recent ids, now and then at one never placed.
        let low = next_order.saturating_sub(50).max(1);
        let target = |rng: &mut Rng| id(low + u128::from(rng.below(51)));
        let sku_ = SKUS[rng.below(3) as usize];
        let roll = rng.below(100);
        let command = if step == steps * 2 / 3 {
            discontinue("C")
        } else if roll < 15 {
            receive(sku_, rng.between(1, 30))
        } else if roll < 25 {
            let delta = rng.between(-6, 6);
            adjust(sku_, if delta == 0 { 1 } else { delta })
        } else if roll < 29 {
            change_price(sku_, rng.between(1, 500))
        } else if roll < 30 {
            register(sku_, 1, 0, REJECT)
        } else if roll < 31 && step > steps * 2 / 3 {
            discontinue("C")
        } else if roll < 70 {
            let count = rng.between(1, 3) as usize;
            let first = rng.below(3) as usize;
            let mut lines: Vec<(&str, i64)> = (0..count)
                .map(|k| (SKUS[(first + k) % 3], rng.between(1, 6)))
                .collect();
            if rng.below(100) == 0 {
                lines.push(("Z", 1));
            }
            let order_id = if rng.below(20) == 0 && next_order > 1 {
                id(next_order - 1)
            } else {
                next_order += 1;
                id(next_order - 1)
            };
            place(order_id, &lines)
        } else if roll < 85 {
            cancel(target(&mut rng))
        } else {
            ship(target(&mut rng))
        };

        let fifo_before: Vec<(Uuid, i64)> = match &command {
            Command::ReceiveStock(c) => {
                let product = store.product(c.sku.as_str()).unwrap();
                product
                    .backorders
                    .iter()
                    .map(|b| (b.order_id, b.quantity))
                    .collect()
            }
            _ => vec![],
        };
        let expected_refusal = match &command {
            Command::RegisterProduct(_) => Some("product_exists"),
            Command::ReceiveStock(_) | Command::ChangePrice(_) => None,
            Command::AdjustStock(c) => {
                let p = store.product(c.sku.as_str()).unwrap();
                (p.on_hand + c.delta < p.reserved).then_some("adjustment_below_reserved")
            }
            Command::Discontinue(c) => store
                .product(c.sku.as_str())
                .unwrap()
                .discontinued
                .then_some("already_discontinued"),
            Command::PlaceOrder(c) => {
                let lines: Vec<(&str, i64)> = c
                    .lines
                    .iter()
                    .map(|l| (l.sku.as_str(), l.quantity))
                    .collect();
                expected_placement(&store, c.order_id, &lines)
            }
            Command::CancelOrder(c) => match store.order(&c.order_id).map(|o| o.status) {
                None => Some("order_not_found"),
                Some(OrderStatus::Ready | OrderStatus::Backordered) => None,
                Some(_) => Some("order_not_cancellable"),
            },
            Command::ShipOrder(c) => match store.order(&c.order_id).map(|o| o.status) {
                None => Some("order_not_found"),
                Some(OrderStatus::Ready) => None,
                Some(OrderStatus::Backordered) => Some("order_not_ready"),
                Some(OrderStatus::Cancelled) => Some("order_cancelled"),
                Some(OrderStatus::Shipped) => Some("order_already_shipped"),
            },
        };

        let outcome = store.when(command.clone());
        match &outcome.result {
            Err(e) => {
                assert_eq!(
                    Some(e.code()),
                    expected_refusal,
                    "seed {seed} step {step}: {command:?} refused with {e:?}"
                );
                *tally.refused.entry(e.code()).or_default() += 1;
            }
            Ok(changes) => {
                assert_eq!(
                    expected_refusal, None,
                    "seed {seed} step {step}: {command:?} was let through"
                );
                *tally.succeeded.entry(command.kind()).or_default() += 1;
                if let Command::ReceiveStock(c) = &command {
                    check_fifo_fill(&fifo_before, c.quantity, changes);
                    tally.readied_by_receipt += changes
                        .iter()
                        .filter(|c| matches!(c.event, Event::OrderReady(_)))
                        .count();
                }
                if let Command::PlaceOrder(c) = &command {
                    check_placement(&store, c, changes);
                }
            }
        }
        store = outcome.then_or_unchanged();

        for p in store.products.values() {
            let ids: Vec<Uuid> = p.backorders.iter().map(|b| b.order_id).collect();
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "seed {seed} step {step}: {} FIFO out of placement order: {ids:?}",
                p.sku
            );
        }
    }
    tally
}

impl When {
    fn then_or_unchanged(self) -> Store {
        match self.result {
            Ok(_) => self.then_ok(),
            Err(_) => self.before,
        }
    }
}

/// A receipt's fills are a prefix of the FIFO as it was: whole backorders, then maybe one
/// partial, adding up to the receipt or to everything that waited.
#[track_caller]
fn check_fifo_fill(fifo_before: &[(Uuid, i64)], quantity: i64, changes: &[Change]) {
    let fills: Vec<(Uuid, i64)> = changes
        .iter()
        .filter_map(|c| match &c.event {
            Event::BackorderFilled(e) => Some((e.order_id, e.quantity)),
            _ => None,
        })
        .collect();
    let waiting: i64 = fifo_before.iter().map(|b| b.1).sum();
    assert_eq!(
        fills.iter().map(|f| f.1).sum::<i64>(),
        quantity.min(waiting)
    );
    for (k, (order_id, filled)) in fills.iter().enumerate() {
        assert_eq!(*order_id, fifo_before[k].0, "fill {k} skipped the queue");
        if k + 1 < fills.len() {
            assert_eq!(*filled, fifo_before[k].1, "fill {k} left units behind");
        }
    }
}

/// Each line reserves min(quantity, available) at the current price.
#[track_caller]
fn check_placement(before: &Store, command: &PlaceOrder, changes: &[Change]) {
    let Event::OrderPlaced(placed) = &changes[0].event else {
        panic!("{changes:?} does not start with OrderPlaced")
    };
    for (request, line) in command.lines.iter().zip(&placed.lines) {
        let p = before.product(request.sku.as_str()).unwrap();
        assert_eq!(line.sku, request.sku.as_str());
        assert_eq!(line.quantity, request.quantity);
        assert_eq!(line.unit_price_cents, p.unit_price_cents);
        assert_eq!(line.reserved, request.quantity.min(p.available()));
    }
    assert_eq!(placed.lines.len(), command.lines.len());
}

#[test]
fn a_seeded_random_run_keeps_every_invariant_after_every_step() {
    for seed in [0x5eed_0001_u64, 0xdead_beef_cafe_f00d, 42] {
        let tally = random_run(seed, 3_000);
        // The run must have exercised the rules, not only refused.
        for kind in [
            "receive_stock",
            "adjust_stock",
            "change_price",
            "place_order",
            "cancel_order",
            "ship_order",
            "discontinue",
        ] {
            assert!(
                tally.succeeded.get(kind).copied().unwrap_or(0) > 0,
                "seed {seed}: no {kind} ever succeeded: {:?}",
                tally.succeeded
            );
        }
        for code in [
            "product_exists",
            "insufficient_stock",
            "order_exists",
            "order_not_ready",
            "order_not_cancellable",
            "product_discontinued",
            "adjustment_below_reserved",
        ] {
            assert!(
                tally.refused.get(code).copied().unwrap_or(0) > 0,
                "seed {seed}: never refused with {code}: {:?}",
                tally.refused
            );
        }
        assert!(
            tally.readied_by_receipt > 0,
            "seed {seed}: no receipt readied an order"
        );
    }
}
