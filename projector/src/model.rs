//! The read models in memory for one batch: the rows the batch's events touch are loaded,
//! changed by each event in turn, and written back with one statement per table. The same
//! code serves the live projector and a rebuild; only the schema differs.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use std::fmt::Write as _;

use sqlx::postgres::{PgArguments, Postgres};
use sqlx::{Arguments, Encode, PgConnection, Type};
use stockflow_events::{Envelope, Event, OrderStatus};
use uuid::Uuid;

/// An event that cannot be applied to the read models as they are.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "event at position {position} ({event_type}) refers to {what}, which the read model does not have"
    )]
    Missing {
        position: i64,
        event_type: String,
        what: String,
    },
    #[error("stored event at position {position} cannot be read: {reason}")]
    Undecodable { position: i64, reason: String },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ProductRow {
    sku: String,
    name: String,
    unit_price_cents: i64,
    currency: String,
    backorder_policy: String,
    status: String,
    on_hand: i64,
    reserved: i64,
    available: i64,
    backordered: i64,
    version: i64,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    customer_id: String,
    status: String,
    currency: String,
    total_cents: i64,
    line_count: i32,
    placed_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    shipped_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    carrier: Option<String>,
    tracking_number: Option<String>,
    version: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct LineRow {
    order_id: Uuid,
    line_no: i32,
    sku: String,
    quantity: i64,
    reserved: i64,
    backordered: i64,
    unit_price_cents: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ReplenishmentRow {
    sku: String,
    order_id: Uuid,
    quantity: i64,
    outstanding: i64,
    status: String,
    requested_at: DateTime<Utc>,
    position: i64,
}

/// Changes to a customer's counters, added to the stored ones.
#[derive(Debug, Default)]
struct CustomerDelta {
    orders: i64,
    open: i64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
}

/// Changes to a day's sales, added to the stored ones.
#[derive(Debug, Default, Clone, Copy)]
struct SalesDelta {
    orders: i64,
    units: i64,
    revenue: i64,
}

impl SalesDelta {
    fn add(&mut self, sign: i64, units: i64, revenue: i64) {
        self.orders += sign;
        self.units += sign * units;
        self.revenue += sign * revenue;
    }
}

/// One batch's working set.
#[derive(Default)]
struct Working {
    products: HashMap<String, ProductRow>,
    orders: HashMap<Uuid, OrderRow>,
    lines: HashMap<Uuid, Vec<LineRow>>,
    replenishments: HashMap<(String, Uuid), ReplenishmentRow>,
    customers: HashMap<String, CustomerDelta>,
    lifetime_values: HashMap<(String, String), i64>,
    daily: HashMap<(NaiveDate, String), SalesDelta>,
    daily_sku: HashMap<(NaiveDate, String, String), SalesDelta>,
    touched_products: HashSet<String>,
    touched_orders: HashSet<Uuid>,
    touched_replenishments: HashSet<(String, Uuid)>,
}

/// Applies events (in position order) to the read models in `schema`, within the caller's
/// transaction, and moves every projection's checkpoint to the last one.
/// With `announce`, the commit notifies `stockflow_projections` of the new position.
pub async fn apply(
    db: &mut PgConnection,
    schema: &str,
    events: &[Envelope],
    announce: bool,
) -> Result<(), ApplyError> {
    let Some(last) = events.last() else {
        return Ok(());
    };
    let mut work = Working::default();
    load(db, schema, events, &mut work).await?;
    for envelope in events {
        work.apply(envelope)?;
    }
    write(db, schema, &work, last.position, announce).await?;
    Ok(())
}

async fn load(
    db: &mut PgConnection,
    schema: &str,
    events: &[Envelope],
    work: &mut Working,
) -> Result<(), sqlx::Error> {
    let mut skus = HashSet::new();
    let mut receipt_skus = HashSet::new();
    let mut order_ids = HashSet::new();
    for envelope in events {
        match &envelope.event {
            Event::StockReceived(e) => {
                skus.insert(e.sku.clone());
                receipt_skus.insert(e.sku.clone());
            }
            Event::OrderPlaced(_) => {}
            e if e.aggregate() == stockflow_events::Aggregate::Product => {
                if let Some(sku) = envelope.stream_id.strip_prefix("product-") {
                    skus.insert(sku.to_owned());
                }
            }
            _ => {
                if let Some(id) = envelope
                    .stream_id
                    .strip_prefix("order-")
                    .and_then(|id| id.parse().ok())
                {
                    order_ids.insert(id);
                }
            }
        }
    }
    let skus: Vec<String> = skus.into_iter().collect();
    let order_ids: Vec<Uuid> = order_ids.into_iter().collect();
    let receipt_skus: Vec<String> = receipt_skus.into_iter().collect();
    if !skus.is_empty() {
        let rows: Vec<ProductRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT sku, name, unit_price_cents, currency, backorder_policy, status, on_hand, reserved, available,
                    backordered, version, updated_at
               FROM {schema}.products WHERE sku = ANY($1)"
        )))
        .bind(&skus)
        .fetch_all(&mut *db)
        .await?;
        work.products
            .extend(rows.into_iter().map(|r| (r.sku.clone(), r)));
    }
    if !order_ids.is_empty() {
        let rows: Vec<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT order_id, customer_id, status, currency, total_cents, line_count, placed_at, updated_at,
                    shipped_at, cancelled_at, carrier, tracking_number, version
               FROM {schema}.orders WHERE order_id = ANY($1)"
        )))
        .bind(&order_ids)
        .fetch_all(&mut *db)
        .await?;
        work.orders
            .extend(rows.into_iter().map(|r| (r.order_id, r)));
        let lines: Vec<LineRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT order_id, line_no, sku, quantity, reserved, backordered, unit_price_cents
               FROM {schema}.order_lines WHERE order_id = ANY($1) ORDER BY order_id, line_no"
        )))
        .bind(&order_ids)
        .fetch_all(&mut *db)
        .await?;
        for line in lines {
            work.lines.entry(line.order_id).or_default().push(line);
        }
    }
    if !receipt_skus.is_empty() {
        let rows: Vec<ReplenishmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT sku, order_id, quantity, outstanding, status, requested_at, position
               FROM {schema}.replenishments WHERE sku = ANY($1) AND status = 'open'"
        )))
        .bind(&receipt_skus)
        .fetch_all(&mut *db)
        .await?;
        work.replenishments
            .extend(rows.into_iter().map(|r| ((r.sku.clone(), r.order_id), r)));
    }
    Ok(())
}

impl Working {
    fn missing(envelope: &Envelope, what: String) -> ApplyError {
        ApplyError::Missing {
            position: envelope.position,
            event_type: envelope.event.event_type(),
            what,
        }
    }

    fn product(&mut self, envelope: &Envelope, sku: &str) -> Result<&mut ProductRow, ApplyError> {
        self.touched_products.insert(sku.to_owned());
        let product = self
            .products
            .get_mut(sku)
            .ok_or_else(|| Self::missing(envelope, format!("product {sku}")))?;
        product.version = envelope.stream_version;
        product.updated_at = envelope.recorded_at;
        Ok(product)
    }

    fn order(&mut self, envelope: &Envelope, order_id: Uuid) -> Result<&mut OrderRow, ApplyError> {
        self.touched_orders.insert(order_id);
        let order = self
            .orders
            .get_mut(&order_id)
            .ok_or_else(|| Self::missing(envelope, format!("order {order_id}")))?;
        order.version = envelope.stream_version;
        order.updated_at = envelope.recorded_at;
        Ok(order)
    }

    /// Adds (sign 1) or withdraws (sign -1) an order's contribution to sales and to its
    /// customer's lifetime value.
    fn count_sale(&mut self, order_id: Uuid, sign: i64) {
        let Some(order) = self.orders.get(&order_id) else {
            return;
        };
        let day = order.placed_at.date_naive();
        let lines = self
            .lines
            .get(&order_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let units: i64 = lines.iter().map(|l| l.quantity).sum();
        self.daily
            .entry((day, order.currency.clone()))
            .or_default()
            .add(sign, units, order.total_cents);
        for line in lines {
            self.daily_sku
                .entry((day, line.sku.clone(), order.currency.clone()))
                .or_default()
                .add(sign, line.quantity, line.quantity * line.unit_price_cents);
        }
        *self
            .lifetime_values
            .entry((order.customer_id.clone(), order.currency.clone()))
            .or_default() += sign * order.total_cents;
    }

    fn apply(&mut self, envelope: &Envelope) -> Result<(), ApplyError> {
        let at = envelope.recorded_at;
        match &envelope.event {
            Event::ProductRegistered(e) => {
                self.touched_products.insert(e.sku.clone());
                self.products.insert(
                    e.sku.clone(),
                    ProductRow {
                        sku: e.sku.clone(),
                        name: e.name.clone(),
                        unit_price_cents: e.unit_price_cents,
                        currency: e.currency.clone(),
                        backorder_policy: match e.backorder_policy {
                            stockflow_events::BackorderPolicy::Reject => "reject".into(),
                            stockflow_events::BackorderPolicy::Backorder => "backorder".into(),
                        },
                        status: "active".into(),
                        on_hand: e.initial_stock,
                        reserved: 0,
                        available: e.initial_stock,
                        backordered: 0,
                        version: envelope.stream_version,
                        updated_at: at,
                    },
                );
            }
            Event::StockReceived(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available, p.backordered) =
                    (e.on_hand, e.reserved, e.available, e.backordered);
                self.fulfil_replenishments(&e.sku, e.quantity);
            }
            Event::StockAdjusted(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available) = (e.on_hand, e.reserved, e.available);
            }
            Event::PriceChanged(e) => {
                self.product(envelope, &e.sku)?.unit_price_cents = e.unit_price_cents
            }
            Event::ProductDiscontinued(e) => {
                self.product(envelope, &e.sku)?.status = "discontinued".into()
            }
            Event::StockReserved(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available) = (e.on_hand, e.reserved, e.available);
            }
            Event::StockBackordered(e) => {
                self.product(envelope, &e.sku)?.backordered = e.backordered
            }
            Event::ReplenishmentRequested(e) => {
                self.product(envelope, &e.sku)?;
                let key = (e.sku.clone(), e.order_id);
                self.touched_replenishments.insert(key.clone());
                self.replenishments.insert(
                    key,
                    ReplenishmentRow {
                        sku: e.sku.clone(),
                        order_id: e.order_id,
                        quantity: e.quantity,
                        outstanding: e.quantity,
                        status: "open".into(),
                        requested_at: at,
                        position: envelope.position,
                    },
                );
            }
            Event::BackorderFilled(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available, p.backordered) =
                    (e.on_hand, e.reserved, e.available, e.backordered);
            }
            Event::StockReleased(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available, p.backordered) =
                    (e.on_hand, e.reserved, e.available, e.backordered);
            }
            Event::StockShipped(e) => {
                let p = self.product(envelope, &e.sku)?;
                (p.on_hand, p.reserved, p.available) = (e.on_hand, e.reserved, e.available);
            }
            Event::OrderPlaced(e) => {
                self.touched_orders.insert(e.order_id);
                self.orders.insert(
                    e.order_id,
                    OrderRow {
                        order_id: e.order_id,
                        customer_id: e.customer_id.clone(),
                        status: e.status.as_str().into(),
                        currency: e.currency.clone(),
                        total_cents: e.total_cents,
                        line_count: i32::try_from(e.lines.len()).unwrap_or(i32::MAX),
                        placed_at: at,
                        updated_at: at,
                        shipped_at: None,
                        cancelled_at: None,
                        carrier: None,
                        tracking_number: None,
                        version: envelope.stream_version,
                    },
                );
                let lines = e
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| LineRow {
                        order_id: e.order_id,
                        line_no: i32::try_from(i + 1).unwrap_or(i32::MAX),
                        sku: l.sku.clone(),
                        quantity: l.quantity,
                        reserved: l.reserved,
                        backordered: l.backordered,
                        unit_price_cents: l.unit_price_cents,
                    })
                    .collect();
                self.lines.insert(e.order_id, lines);
                let customer = self.customers.entry(e.customer_id.clone()).or_default();
                customer.orders += 1;
                customer.open += 1;
                customer.first = Some(customer.first.map_or(at, |f| f.min(at)));
                customer.last = Some(customer.last.map_or(at, |l| l.max(at)));
                self.count_sale(e.order_id, 1);
            }
            Event::OrderLineFilled(e) => {
                self.order(envelope, e.order_id)?;
                let line = self
                    .lines
                    .get_mut(&e.order_id)
                    .and_then(|lines| lines.iter_mut().find(|l| l.sku == e.sku))
                    .ok_or_else(|| {
                        Self::missing(envelope, format!("line {} of order {}", e.sku, e.order_id))
                    })?;
                (line.reserved, line.backordered) = (e.reserved, e.backordered);
            }
            Event::OrderReady(e) => {
                self.order(envelope, e.order_id)?.status = OrderStatus::Ready.as_str().into()
            }
            Event::OrderCancelled(e) => {
                let order = self.order(envelope, e.order_id)?;
                order.status = OrderStatus::Cancelled.as_str().into();
                order.cancelled_at = Some(at);
                let customer_id = order.customer_id.clone();
                self.customers.entry(customer_id).or_default().open -= 1;
                self.count_sale(e.order_id, -1);
            }
            Event::OrderShipped(e) => {
                let order = self.order(envelope, e.order_id)?;
                order.status = OrderStatus::Shipped.as_str().into();
                order.shipped_at = Some(at);
                order.carrier = Some(e.carrier.clone());
                order.tracking_number = Some(e.tracking_number.clone());
                let customer_id = order.customer_id.clone();
                self.customers.entry(customer_id).or_default().open -= 1;
            }
        }
        Ok(())
    }

    /// Received units fulfil the sku's open replenishment requests, oldest first.
    fn fulfil_replenishments(&mut self, sku: &str, quantity: i64) {
        let mut open: Vec<&mut ReplenishmentRow> = self
            .replenishments
            .values_mut()
            .filter(|r| r.sku == sku && r.status == "open")
            .collect();
        open.sort_by_key(|r| r.position);
        let mut left = quantity;
        for request in open {
            if left == 0 {
                break;
            }
            let taken = left.min(request.outstanding);
            request.outstanding -= taken;
            left -= taken;
            if request.outstanding == 0 {
                request.status = "fulfilled".into();
            }
            self.touched_replenishments
                .insert((request.sku.clone(), request.order_id));
        }
    }
}

/// Every table's changes in one statement of data-modifying CTEs (one round trip; the
/// tables are distinct, so the parts cannot see or disturb each other), ending with the
/// checkpoint and, for the live read models, the notification queries wait on.
async fn write(
    db: &mut PgConnection,
    schema: &str,
    work: &Working,
    position: i64,
    announce: bool,
) -> Result<(), sqlx::Error> {
    let mut statement = Combined::default();
    let products: Vec<&ProductRow> = work
        .touched_products
        .iter()
        .filter_map(|s| work.products.get(s))
        .collect();
    if !products.is_empty() {
        statement.part(&format!(
            "INSERT INTO {schema}.products AS p (sku, name, unit_price_cents, currency, backorder_policy, status,
                    on_hand, reserved, available, backordered, version, updated_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                    $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::timestamptz[])
             ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, unit_price_cents = EXCLUDED.unit_price_cents,
                    currency = EXCLUDED.currency, backorder_policy = EXCLUDED.backorder_policy,
                    status = EXCLUDED.status, on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved,
                    available = EXCLUDED.available, backordered = EXCLUDED.backordered,
                    version = EXCLUDED.version, updated_at = EXCLUDED.updated_at"
        ));
        statement.add(products.iter().map(|p| p.sku.as_str()).collect::<Vec<_>>())?;
        statement.add(products.iter().map(|p| p.name.as_str()).collect::<Vec<_>>())?;
        statement.add(
            products
                .iter()
                .map(|p| p.unit_price_cents)
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            products
                .iter()
                .map(|p| p.currency.as_str())
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            products
                .iter()
                .map(|p| p.backorder_policy.as_str())
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            products
                .iter()
                .map(|p| p.status.as_str())
                .collect::<Vec<_>>(),
        )?;
        statement.add(products.iter().map(|p| p.on_hand).collect::<Vec<_>>())?;
        statement.add(products.iter().map(|p| p.reserved).collect::<Vec<_>>())?;
        statement.add(products.iter().map(|p| p.available).collect::<Vec<_>>())?;
        statement.add(products.iter().map(|p| p.backordered).collect::<Vec<_>>())?;
        statement.add(products.iter().map(|p| p.version).collect::<Vec<_>>())?;
        statement.add(products.iter().map(|p| p.updated_at).collect::<Vec<_>>())?;
    }

    let orders: Vec<&OrderRow> = work
        .touched_orders
        .iter()
        .filter_map(|id| work.orders.get(id))
        .collect();
    if !orders.is_empty() {
        statement.part(&format!(
            "INSERT INTO {schema}.orders (order_id, customer_id, status, currency, total_cents, line_count, placed_at,
                    updated_at, shipped_at, cancelled_at, carrier, tracking_number, version)
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::integer[],
                    $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::text[],
                    $12::text[], $13::bigint[])
             ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at,
                    shipped_at = EXCLUDED.shipped_at, cancelled_at = EXCLUDED.cancelled_at,
                    carrier = EXCLUDED.carrier, tracking_number = EXCLUDED.tracking_number, version = EXCLUDED.version"
        ));
        statement.add(orders.iter().map(|o| o.order_id).collect::<Vec<_>>())?;
        statement.add(
            orders
                .iter()
                .map(|o| o.customer_id.as_str())
                .collect::<Vec<_>>(),
        )?;
        statement.add(orders.iter().map(|o| o.status.as_str()).collect::<Vec<_>>())?;
        statement.add(
            orders
                .iter()
                .map(|o| o.currency.as_str())
                .collect::<Vec<_>>(),
        )?;
        statement.add(orders.iter().map(|o| o.total_cents).collect::<Vec<_>>())?;
        statement.add(orders.iter().map(|o| o.line_count).collect::<Vec<_>>())?;
        statement.add(orders.iter().map(|o| o.placed_at).collect::<Vec<_>>())?;
        statement.add(orders.iter().map(|o| o.updated_at).collect::<Vec<_>>())?;
        statement.add(orders.iter().map(|o| o.shipped_at).collect::<Vec<_>>())?;
        statement.add(orders.iter().map(|o| o.cancelled_at).collect::<Vec<_>>())?;
        statement.add(
            orders
                .iter()
                .map(|o| o.carrier.as_deref())
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            orders
                .iter()
                .map(|o| o.tracking_number.as_deref())
                .collect::<Vec<_>>(),
        )?;
        statement.add(orders.iter().map(|o| o.version).collect::<Vec<_>>())?;
        let lines: Vec<&LineRow> = work
            .touched_orders
            .iter()
            .filter_map(|id| work.lines.get(id))
            .flatten()
            .collect();
        statement.part(&format!(
            "INSERT INTO {schema}.order_lines (order_id, line_no, sku, quantity, reserved, backordered, unit_price_cents)
             SELECT * FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
                    $7::bigint[])
             ON CONFLICT (order_id, line_no) DO UPDATE SET reserved = EXCLUDED.reserved,
                    backordered = EXCLUDED.backordered"
        ));
        statement.add(lines.iter().map(|l| l.order_id).collect::<Vec<_>>())?;
        statement.add(lines.iter().map(|l| l.line_no).collect::<Vec<_>>())?;
        statement.add(lines.iter().map(|l| l.sku.as_str()).collect::<Vec<_>>())?;
        statement.add(lines.iter().map(|l| l.quantity).collect::<Vec<_>>())?;
        statement.add(lines.iter().map(|l| l.reserved).collect::<Vec<_>>())?;
        statement.add(lines.iter().map(|l| l.backordered).collect::<Vec<_>>())?;
        statement.add(lines.iter().map(|l| l.unit_price_cents).collect::<Vec<_>>())?;
    }

    let replenishments: Vec<&ReplenishmentRow> = work
        .touched_replenishments
        .iter()
        .filter_map(|k| work.replenishments.get(k))
        .collect();
    if !replenishments.is_empty() {
        statement.part(&format!(
            "INSERT INTO {schema}.replenishments (sku, order_id, quantity, outstanding, status, requested_at, position)
             SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::bigint[], $5::text[],
                    $6::timestamptz[], $7::bigint[])
             ON CONFLICT (sku, order_id) DO UPDATE SET outstanding = EXCLUDED.outstanding, status = EXCLUDED.status"
        ));
        statement.add(
            replenishments
                .iter()
                .map(|r| r.sku.as_str())
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            replenishments
                .iter()
                .map(|r| r.order_id)
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            replenishments
                .iter()
                .map(|r| r.quantity)
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            replenishments
                .iter()
                .map(|r| r.outstanding)
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            replenishments
                .iter()
                .map(|r| r.status.as_str())
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            replenishments
                .iter()
                .map(|r| r.requested_at)
                .collect::<Vec<_>>(),
        )?;
        statement.add(
            replenishments
                .iter()
                .map(|r| r.position)
                .collect::<Vec<_>>(),
        )?;
    }

    if !work.customers.is_empty() {
        let customers: BTreeMap<&String, &CustomerDelta> = work.customers.iter().collect();
        statement.part(&format!(
            "INSERT INTO {schema}.customers AS c (customer_id, order_count, open_order_count, first_order_at, last_order_at)
             SELECT id, orders, open, coalesce(first, 'infinity'), coalesce(last, '-infinity')
               FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::timestamptz[])
                    AS d(id, orders, open, first, last)
             -- A delta without placements (a cancel, a ship) carries no times: the neutral
             -- values leave the stored ones as they are. (NOT NULL is checked before the
             -- conflict is resolved, so NULL cannot stand in for them.)
             ON CONFLICT (customer_id) DO UPDATE SET order_count = c.order_count + EXCLUDED.order_count,
                    open_order_count = c.open_order_count + EXCLUDED.open_order_count,
                    first_order_at = LEAST(c.first_order_at, EXCLUDED.first_order_at),
                    last_order_at = GREATEST(c.last_order_at, EXCLUDED.last_order_at)"
        ));
        statement.add(customers.keys().map(|k| k.as_str()).collect::<Vec<_>>())?;
        statement.add(customers.values().map(|d| d.orders).collect::<Vec<_>>())?;
        statement.add(customers.values().map(|d| d.open).collect::<Vec<_>>())?;
        statement.add(customers.values().map(|d| d.first).collect::<Vec<_>>())?;
        statement.add(customers.values().map(|d| d.last).collect::<Vec<_>>())?;
    }
    if !work.lifetime_values.is_empty() {
        let values: BTreeMap<&(String, String), &i64> = work.lifetime_values.iter().collect();
        statement.part(&format!(
            "INSERT INTO {schema}.customer_lifetime_values AS v (customer_id, currency, value_cents)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT (customer_id, currency) DO UPDATE SET value_cents = v.value_cents + EXCLUDED.value_cents"
        ));
        statement.add(values.keys().map(|(c, _)| c.as_str()).collect::<Vec<_>>())?;
        statement.add(
            values
                .keys()
                .map(|(_, cur)| cur.as_str())
                .collect::<Vec<_>>(),
        )?;
        statement.add(values.values().map(|v| **v).collect::<Vec<_>>())?;
    }
    if !work.daily.is_empty() {
        let daily: BTreeMap<&(NaiveDate, String), &SalesDelta> = work.daily.iter().collect();
        statement.part(&format!(
            "INSERT INTO {schema}.daily_sales AS s (day, currency, orders, units, revenue_cents)
             SELECT * FROM unnest($1::date[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
             ON CONFLICT (day, currency) DO UPDATE SET orders = s.orders + EXCLUDED.orders,
                    units = s.units + EXCLUDED.units, revenue_cents = s.revenue_cents + EXCLUDED.revenue_cents"
        ));
        statement.add(daily.keys().map(|(d, _)| *d).collect::<Vec<_>>())?;
        statement.add(daily.keys().map(|(_, c)| c.as_str()).collect::<Vec<_>>())?;
        statement.add(daily.values().map(|s| s.orders).collect::<Vec<_>>())?;
        statement.add(daily.values().map(|s| s.units).collect::<Vec<_>>())?;
        statement.add(daily.values().map(|s| s.revenue).collect::<Vec<_>>())?;
    }
    if !work.daily_sku.is_empty() {
        let daily: BTreeMap<&(NaiveDate, String, String), &SalesDelta> =
            work.daily_sku.iter().collect();
        statement.part(&format!(
            "INSERT INTO {schema}.daily_sku_sales AS s (day, sku, currency, orders, units, revenue_cents)
             SELECT * FROM unnest($1::date[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
             ON CONFLICT (day, sku, currency) DO UPDATE SET orders = s.orders + EXCLUDED.orders,
                    units = s.units + EXCLUDED.units, revenue_cents = s.revenue_cents + EXCLUDED.revenue_cents"
        ));
        statement.add(daily.keys().map(|(d, _, _)| *d).collect::<Vec<_>>())?;
        statement.add(daily.keys().map(|(_, s, _)| s.as_str()).collect::<Vec<_>>())?;
        statement.add(daily.keys().map(|(_, _, c)| c.as_str()).collect::<Vec<_>>())?;
        statement.add(daily.values().map(|s| s.orders).collect::<Vec<_>>())?;
        statement.add(daily.values().map(|s| s.units).collect::<Vec<_>>())?;
        statement.add(daily.values().map(|s| s.revenue).collect::<Vec<_>>())?;
    }
    statement.part(&format!(
        "UPDATE {schema}.projections SET position = $1, status = 'running', last_error = NULL, updated_at = now()"
    ));
    statement.add(position)?;
    let last = statement.next_placeholder();
    statement.add(position)?;
    statement.sql.push_str(&if announce {
        format!(" SELECT pg_notify('stockflow_projections', {last}::text)")
    } else {
        format!(" SELECT {last}::bigint")
    });
    sqlx::query_with(sqlx::AssertSqlSafe(statement.sql), statement.args)
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// A statement made of parts written as if each were alone (`$1`, `$2`, …): their
/// placeholders are renumbered after the parts before them.
#[derive(Default)]
struct Combined {
    sql: String,
    args: PgArguments,
    placeholders: usize,
    parts: usize,
}

impl Combined {
    fn part(&mut self, sql: &str) {
        self.sql
            .push_str(if self.parts == 0 { "WITH " } else { ", " });
        let _ = write!(self.sql, "w{} AS (", self.parts);
        let mut highest = 0;
        let mut rest = sql;
        while let Some(at) = rest.find('$') {
            self.sql.push_str(&rest[..at]);
            let digits = rest[at + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .count();
            match rest[at + 1..at + 1 + digits].parse::<usize>() {
                Ok(n) => {
                    highest = highest.max(n);
                    let _ = write!(self.sql, "${}", n + self.placeholders);
                }
                // Not a placeholder: kept as it is.
                Err(_) => self.sql.push('$'),
            }
            rest = &rest[at + 1 + digits..];
        }
        self.sql.push_str(rest);
        self.sql.push(')');
        self.placeholders += highest;
        self.parts += 1;
    }

    /// A placeholder of the final SELECT, after every part's.
    fn next_placeholder(&mut self) -> String {
        self.placeholders += 1;
        format!("${}", self.placeholders)
    }

    fn add<'t, T: Encode<'t, Postgres> + Type<Postgres>>(
        &mut self,
        value: T,
    ) -> Result<(), sqlx::Error> {
        self.args.add(value).map_err(sqlx::Error::Encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_part_is_renumbered_after_the_parts_before_it() {
        let mut statement = Combined::default();
        statement.part("INSERT INTO a SELECT * FROM unnest($1::text[], $2::bigint[])");
        statement.part("UPDATE b SET x = $1 WHERE note = 'costs $ more'");
        assert_eq!(statement.next_placeholder(), "$4");
        assert_eq!(
            statement.sql,
            "WITH w0 AS (INSERT INTO a SELECT * FROM unnest($1::text[], $2::bigint[])), \
             w1 AS (UPDATE b SET x = $3 WHERE note = 'costs $ more')"
        );
    }
}
