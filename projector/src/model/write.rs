//! Writing a batch: every changed row, the checkpoint and, for the live read models, the
//! notification, in one statement (one round trip). Table names are unqualified: they
//! resolve through the transaction's search path (see [`super::Schema`]).

use std::collections::HashMap;

use sqlx::postgres::Postgres;
use sqlx::query_builder::Separated;
use sqlx::{Encode, PgConnection, QueryBuilder, Type};
use stockflow_event_store::channels::PROJECTIONS;

use super::rows::{LineRow, OrderRow, ProductRow, ReplenishmentRow, Working};

/// Writes the batch's changes and moves every projection's checkpoint to `position`. With
/// `announce`, the commit notifies the query services of the new position.
pub(super) async fn write(
    db: &mut PgConnection,
    work: &Working,
    position: i64,
    announce: bool,
) -> Result<(), sqlx::Error> {
    statement(work, position, announce)
        .build()
        .execute(db)
        .await?;
    Ok(())
}

/// One statement of data-modifying CTEs, one a changed table (the tables are distinct, so
/// the parts cannot see or disturb each other). Rows go as one array a column through
/// `unnest`, not as a placeholder a value (`push_values`): the statement's text depends only
/// on which tables changed, never on how many rows, so sqlx and PostgreSQL keep few prepared
/// statements, and a batch of any size stays far below PostgreSQL's 65,535 parameters.
pub(super) fn statement(work: &Working, position: i64, announce: bool) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new("WITH checkpoint_moved AS (UPDATE projections SET position = ");
    q.push_bind(position);
    q.push(", status = 'running', last_error = NULL, updated_at = now())");
    products(&mut q, work);
    orders(&mut q, work);
    replenishments(&mut q, work);
    customers(&mut q, work);
    sales(&mut q, work);
    history(&mut q, work);
    if announce {
        // Delivered when the transaction commits, to the query services waiting on it.
        q.push(" SELECT pg_notify(");
        q.push_bind(PROJECTIONS);
        q.push(", ");
        q.push_bind(position);
        q.push("::text)");
    } else {
        q.push(" SELECT ");
        q.push_bind(position);
        q.push("::bigint");
    }
    q
}

/// `unnest($a::t[], $b::u[], …)` over `rows`: one bound array a column.
struct Unnest<'q, 'r, R> {
    columns: Separated<'q, Postgres, &'static str>,
    rows: &'r [R],
}

impl<'q, 'r, R> Unnest<'q, 'r, R> {
    /// Opens `unnest(`; the caller closes it once every column is in.
    fn new(q: &'q mut QueryBuilder<Postgres>, rows: &'r [R]) -> Self {
        q.push("unnest(");
        Unnest {
            columns: q.separated(", "),
            rows,
        }
    }

    /// The next column: `value` of every row, as an array of `sql_type`.
    fn column<'t, T>(&mut self, sql_type: &str, value: impl Fn(&'r R) -> T) -> &mut Self
    where
        Vec<T>: Encode<'t, Postgres> + Type<Postgres>,
    {
        self.columns
            .push_bind(self.rows.iter().map(value).collect::<Vec<T>>());
        self.columns
            .push_unseparated(format_args!("::{sql_type}[]"));
        self
    }
}

/// A map's entries in key order: every batch upserts (and so locks) counter rows in the same
/// order.
fn sorted<K: Ord, V>(map: &HashMap<K, V>) -> Vec<(&K, &V)> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

fn products(q: &mut QueryBuilder<Postgres>, work: &Working) {
    let rows: Vec<&ProductRow> = work
        .touched_products
        .iter()
        .filter_map(|s| work.products.get(s))
        .collect();
    if rows.is_empty() {
        return;
    }
    q.push(
        ", products_written AS (INSERT INTO products (sku, name, unit_price_cents, currency,
                backorder_policy, status, on_hand, reserved, available, backordered, version,
                updated_at)
         SELECT * FROM ",
    );
    Unnest::new(q, &rows)
        .column("text", |p| p.sku.as_str())
        .column("text", |p| p.name.as_str())
        .column("bigint", |p| p.unit_price_cents)
        .column("text", |p| p.currency.as_str())
        .column("text", |p| p.backorder_policy.as_str())
        .column("text", |p| p.status.as_str())
        .column("bigint", |p| p.on_hand)
        .column("bigint", |p| p.reserved)
        .column("bigint", |p| p.available)
        .column("bigint", |p| p.backordered)
        .column("bigint", |p| p.version)
        .column("timestamptz", |p| p.updated_at);
    q.push(
        ")
         ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name,
                unit_price_cents = EXCLUDED.unit_price_cents, currency = EXCLUDED.currency,
                backorder_policy = EXCLUDED.backorder_policy, status = EXCLUDED.status,
                on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved,
                available = EXCLUDED.available, backordered = EXCLUDED.backordered,
                version = EXCLUDED.version, updated_at = EXCLUDED.updated_at)",
    );
}

/// The orders touched, each with all its lines.
fn orders(q: &mut QueryBuilder<Postgres>, work: &Working) {
    let rows: Vec<&OrderRow> = work
        .touched_orders
        .iter()
        .filter_map(|id| work.orders.get(id))
        .collect();
    if rows.is_empty() {
        return;
    }
    q.push(
        ", orders_written AS (INSERT INTO orders (order_id, customer_id, status, currency,
                total_cents, line_count, placed_at, updated_at, shipped_at, cancelled_at, carrier,
                tracking_number, version)
         SELECT * FROM ",
    );
    Unnest::new(q, &rows)
        .column("uuid", |o| o.order_id)
        .column("text", |o| o.customer_id.as_str())
        .column("text", |o| o.status.as_str())
        .column("text", |o| o.currency.as_str())
        .column("bigint", |o| o.total_cents)
        .column("integer", |o| o.line_count)
        .column("timestamptz", |o| o.placed_at)
        .column("timestamptz", |o| o.updated_at)
        .column("timestamptz", |o| o.shipped_at)
        .column("timestamptz", |o| o.cancelled_at)
        .column("text", |o| o.carrier.as_deref())
        .column("text", |o| o.tracking_number.as_deref())
        .column("bigint", |o| o.version);
    q.push(
        ")
         ON CONFLICT (order_id) DO UPDATE SET status = EXCLUDED.status,
                updated_at = EXCLUDED.updated_at, shipped_at = EXCLUDED.shipped_at,
                cancelled_at = EXCLUDED.cancelled_at, carrier = EXCLUDED.carrier,
                tracking_number = EXCLUDED.tracking_number, version = EXCLUDED.version)",
    );

    let lines: Vec<&LineRow> = work
        .touched_orders
        .iter()
        .filter_map(|id| work.lines.get(id))
        .flatten()
        .collect();
    q.push(
        ", order_lines_written AS (INSERT INTO order_lines (order_id, line_no, sku, quantity,
                reserved, backordered, unit_price_cents)
         SELECT * FROM ",
    );
    Unnest::new(q, &lines)
        .column("uuid", |l| l.order_id)
        .column("integer", |l| l.line_no)
        .column("text", |l| l.sku.as_str())
        .column("bigint", |l| l.quantity)
        .column("bigint", |l| l.reserved)
        .column("bigint", |l| l.backordered)
        .column("bigint", |l| l.unit_price_cents);
    q.push(
        ")
         ON CONFLICT (order_id, line_no) DO UPDATE SET reserved = EXCLUDED.reserved,
                backordered = EXCLUDED.backordered)",
    );
}

fn replenishments(q: &mut QueryBuilder<Postgres>, work: &Working) {
    let rows: Vec<&ReplenishmentRow> = work
        .touched_replenishments
        .iter()
        .filter_map(|k| work.replenishments.get(k))
        .collect();
    if rows.is_empty() {
        return;
    }
    q.push(
        ", replenishments_written AS (INSERT INTO replenishments (sku, order_id, quantity,
                outstanding, status, requested_at, position)
         SELECT * FROM ",
    );
    Unnest::new(q, &rows)
        .column("text", |r| r.sku.as_str())
        .column("uuid", |r| r.order_id)
        .column("bigint", |r| r.quantity)
        .column("bigint", |r| r.outstanding)
        .column("text", |r| r.status.as_str())
        .column("timestamptz", |r| r.requested_at)
        .column("bigint", |r| r.position);
    q.push(
        ")
         ON CONFLICT (sku, order_id) DO UPDATE SET outstanding = EXCLUDED.outstanding,
                status = EXCLUDED.status)",
    );
}

/// Customers' counters and lifetime values: the batch's changes are added to the stored ones.
fn customers(q: &mut QueryBuilder<Postgres>, work: &Working) {
    if !work.customers.is_empty() {
        let rows = sorted(&work.customers);
        // A change without placements (a cancel, a ship) carries no times: the neutral values
        // leave the stored ones as they are. (NOT NULL is checked before the conflict is
        // resolved, so NULL cannot stand in for them.)
        q.push(
            ", customers_written AS (INSERT INTO customers AS c (customer_id, order_count,
                    open_order_count, first_order_at, last_order_at)
             SELECT id, orders, open, coalesce(first, 'infinity'), coalesce(last, '-infinity')
               FROM ",
        );
        Unnest::new(q, &rows)
            .column("text", |(id, _)| id.as_str())
            .column("bigint", |(_, d)| d.orders)
            .column("bigint", |(_, d)| d.open)
            .column("timestamptz", |(_, d)| d.first)
            .column("timestamptz", |(_, d)| d.last);
        q.push(
            ") AS d(id, orders, open, first, last)
             ON CONFLICT (customer_id) DO UPDATE
                SET order_count = c.order_count + EXCLUDED.order_count,
                    open_order_count = c.open_order_count + EXCLUDED.open_order_count,
                    first_order_at = LEAST(c.first_order_at, EXCLUDED.first_order_at),
                    last_order_at = GREATEST(c.last_order_at, EXCLUDED.last_order_at))",
        );
    }
    if !work.lifetime_values.is_empty() {
        let rows = sorted(&work.lifetime_values);
        q.push(
            ", customer_lifetime_values_written AS (INSERT INTO customer_lifetime_values AS v
                    (customer_id, currency, value_cents)
             SELECT * FROM ",
        );
        Unnest::new(q, &rows)
            .column("text", |((customer, _), _)| customer.as_str())
            .column("text", |((_, currency), _)| currency.as_str())
            .column("bigint", |(_, value)| **value);
        q.push(
            ")
             ON CONFLICT (customer_id, currency) DO UPDATE
                SET value_cents = v.value_cents + EXCLUDED.value_cents)",
        );
    }
}

/// Sales by day, and by day and sku: the batch's changes are added to the stored ones.
fn sales(q: &mut QueryBuilder<Postgres>, work: &Working) {
    if !work.daily.is_empty() {
        let rows = sorted(&work.daily);
        q.push(
            ", daily_sales_written AS (INSERT INTO daily_sales AS s (day, currency, orders, units,
                    revenue_cents)
             SELECT * FROM ",
        );
        Unnest::new(q, &rows)
            .column("date", |((day, _), _)| *day)
            .column("text", |((_, currency), _)| currency.as_str())
            .column("bigint", |(_, s)| s.orders)
            .column("bigint", |(_, s)| s.units)
            .column("bigint", |(_, s)| s.revenue);
        q.push(
            ")
             ON CONFLICT (day, currency) DO UPDATE SET orders = s.orders + EXCLUDED.orders,
                    units = s.units + EXCLUDED.units,
                    revenue_cents = s.revenue_cents + EXCLUDED.revenue_cents)",
        );
    }
    if !work.daily_sku.is_empty() {
        let rows = sorted(&work.daily_sku);
        q.push(
            ", daily_sku_sales_written AS (INSERT INTO daily_sku_sales AS s (day, sku, currency,
                    orders, units, revenue_cents)
             SELECT * FROM ",
        );
        Unnest::new(q, &rows)
            .column("date", |((day, _, _), _)| *day)
            .column("text", |((_, sku, _), _)| sku.as_str())
            .column("text", |((_, _, currency), _)| currency.as_str())
            .column("bigint", |(_, s)| s.orders)
            .column("bigint", |(_, s)| s.units)
            .column("bigint", |(_, s)| s.revenue);
        q.push(
            ")
             ON CONFLICT (day, sku, currency) DO UPDATE SET orders = s.orders + EXCLUDED.orders,
                    units = s.units + EXCLUDED.units,
                    revenue_cents = s.revenue_cents + EXCLUDED.revenue_cents)",
        );
    }
}

/// The history rows: appended, never changed. A conflict would mean an event applied twice,
/// which the checkpoint rules out; it fails the batch rather than pass unseen.
fn history(q: &mut QueryBuilder<Postgres>, work: &Working) {
    if !work.movements.is_empty() {
        q.push(
            ", stock_movements_written AS (INSERT INTO stock_movements (sku, position, at, event,
                    on_hand_change, reserved_change, on_hand, reserved, available, order_id,
                    reference, reason)
             SELECT * FROM ",
        );
        Unnest::new(q, &work.movements)
            .column("text", |m| m.sku.as_str())
            .column("bigint", |m| m.position)
            .column("timestamptz", |m| m.at)
            .column("text", |m| m.event.as_str())
            .column("bigint", |m| m.on_hand_change)
            .column("bigint", |m| m.reserved_change)
            .column("bigint", |m| m.on_hand)
            .column("bigint", |m| m.reserved)
            .column("bigint", |m| m.available)
            .column("uuid", |m| m.order_id)
            .column("text", |m| m.reference.as_deref())
            .column("text", |m| m.reason.as_deref());
        q.push("))");
    }
    if !work.prices.is_empty() {
        q.push(
            ", product_prices_written AS (INSERT INTO product_prices (sku, position, at,
                    unit_price_cents)
             SELECT * FROM ",
        );
        Unnest::new(q, &work.prices)
            .column("text", |p| p.sku.as_str())
            .column("bigint", |p| p.position)
            .column("timestamptz", |p| p.at)
            .column("bigint", |p| p.unit_price_cents);
        q.push("))");
    }
}
