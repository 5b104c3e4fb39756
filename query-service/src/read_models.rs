//! Reading the read models (schema `read`, kept by the projector): one function per question
//! of SPEC §6, returning the rows as the API shows them. Filters arrive already validated.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};
use stockflow_events::OrderStatus;
use uuid::Uuid;

/// A page of a keyset listing: up to `limit` items, and whether more follow the last one.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl<T> Page<T> {
    /// Listings fetch one row beyond the limit: its presence is what says more follow, so
    /// the last page never ends in an empty one.
    fn from_rows(mut rows: Vec<T>, limit: i64) -> Page<T> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        Page { items: rows, more }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductStatus {
    Active,
    Discontinued,
}

impl ProductStatus {
    pub const ALL: [ProductStatus; 2] = [ProductStatus::Active, ProductStatus::Discontinued];

    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Discontinued => "discontinued",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplenishmentStatus {
    Open,
    Fulfilled,
}

impl ReplenishmentStatus {
    pub const ALL: [ReplenishmentStatus; 2] =
        [ReplenishmentStatus::Open, ReplenishmentStatus::Fulfilled];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplenishmentStatus::Open => "open",
            ReplenishmentStatus::Fulfilled => "fulfilled",
        }
    }
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub unit_price_cents: i64,
    pub currency: String,
    pub backorder_policy: String,
    pub status: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub backordered: i64,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub status: Option<ProductStatus>,
    pub max_available: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, FromRow)]
pub struct OrderLine {
    pub sku: String,
    pub quantity: i64,
    pub reserved: i64,
    pub backordered: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Order {
    pub order_id: Uuid,
    pub customer_id: String,
    pub status: String,
    pub currency: String,
    pub total_cents: i64,
    #[sqlx(json)]
    pub lines: Vec<OrderLine>,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub version: i64,
}

/// An order as listings show it: without its lines, with their count.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct OrderSummary {
    pub order_id: Uuid,
    pub customer_id: String,
    pub status: String,
    pub currency: String,
    pub total_cents: i64,
    pub line_count: i32,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub version: i64,
}

/// Where an order listing goes on: newest first, the order id breaking ties. The time is kept
/// in microseconds, PostgreSQL's precision, so the key is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderKey {
    pub placed_at_us: i64,
    pub order_id: Uuid,
}

impl OrderSummary {
    pub fn key(&self) -> OrderKey {
        OrderKey {
            placed_at_us: self.placed_at.timestamp_micros(),
            order_id: self.order_id,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub customer_id: Option<String>,
    pub status: Option<OrderStatus>,
    /// Placed at or after.
    pub placed_from: Option<DateTime<Utc>>,
    /// Placed before (exclusive, so a whole day is `[day, next day)`).
    pub placed_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Customer {
    pub customer_id: String,
    pub order_count: i64,
    pub open_order_count: i64,
    #[sqlx(json)]
    pub lifetime_value: BTreeMap<String, i64>,
    pub first_order_at: DateTime<Utc>,
    pub last_order_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SalesGrouping {
    Day,
    Sku,
}

impl SalesGrouping {
    pub const ALL: [SalesGrouping; 2] = [SalesGrouping::Day, SalesGrouping::Sku];

    pub fn as_str(self) -> &'static str {
        match self {
            SalesGrouping::Day => "day",
            SalesGrouping::Sku => "sku",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SalesFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct DaySales {
    pub day: NaiveDate,
    pub currency: String,
    pub orders: i64,
    pub units: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
pub struct SkuSales {
    pub sku: String,
    pub currency: String,
    pub orders: i64,
    pub units: i64,
    pub revenue_cents: i64,
}

#[derive(Debug, Clone)]
pub enum Sales {
    ByDay(Vec<DaySales>),
    BySku(Vec<SkuSales>),
}

#[derive(Debug, Clone, Serialize, FromRow)]
pub struct Replenishment {
    pub sku: String,
    pub order_id: Uuid,
    pub quantity: i64,
    pub outstanding: i64,
    pub status: String,
    pub requested_at: DateTime<Utc>,
    /// The request's place in the store: receipts fulfil in this order.
    #[serde(skip)]
    pub position: i64,
}

/// Where a replenishment listing goes on: oldest request first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplenishmentKey {
    pub position: i64,
    pub sku: String,
    pub order_id: Uuid,
}

impl Replenishment {
    pub fn key(&self) -> ReplenishmentKey {
        ReplenishmentKey {
            position: self.position,
            sku: self.sku.clone(),
            order_id: self.order_id,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ReplenishmentFilter {
    pub sku: Option<String>,
    pub status: Option<ReplenishmentStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Projections {
    pub head: i64,
    pub position: i64,
    pub lag_events: i64,
    pub items: Vec<Projection>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Projection {
    pub name: String,
    pub position: i64,
    pub status: String,
    pub updated_at: DateTime<Utc>,
}

/// A projection that stopped advancing, and what stopped it.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct StoppedProjection {
    pub name: String,
    pub position: i64,
    pub last_error: Option<String>,
}

/// The read models, over the service's pool.
#[derive(Clone)]
pub struct ReadModels {
    pool: PgPool,
}

const ORDER_SUMMARY_COLUMNS: &str = "order_id, customer_id, status, currency, total_cents, \
     line_count, placed_at, updated_at, shipped_at, cancelled_at, carrier, tracking_number, version";

impl ReadModels {
    pub fn new(pool: PgPool) -> ReadModels {
        ReadModels { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The position every read model has reached: the projector moves them together, and an
    /// answer can promise no more than the slowest.
    pub async fn position(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT coalesce(min(position), 0)::bigint FROM read.projections")
            .fetch_one(&self.pool)
            .await
    }

    pub async fn product(&self, sku: &str) -> Result<Option<Product>, sqlx::Error> {
        sqlx::query_as(
            "SELECT sku, name, unit_price_cents, currency, backorder_policy, status, on_hand, \
                    reserved, available, backordered, version, updated_at \
               FROM read.products WHERE sku = $1",
        )
        .bind(sku)
        .fetch_optional(&self.pool)
        .await
    }

    /// Products by sku, after `after`.
    pub async fn products(
        &self,
        filter: &ProductFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Page<Product>, sqlx::Error> {
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT sku, name, unit_price_cents, currency, backorder_policy, status, on_hand, \
                    reserved, available, backordered, version, updated_at \
               FROM read.products WHERE true",
        );
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(max) = filter.max_available {
            query.push(" AND available <= ").push_bind(max);
        }
        if let Some(after) = after {
            query.push(" AND sku > ").push_bind(after.to_owned());
        }
        query.push(" ORDER BY sku LIMIT ").push_bind(limit + 1);
        let rows = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::from_rows(rows, limit))
    }

    /// An order with its lines, read in one statement so both come from the same snapshot.
    pub async fn order(&self, order_id: Uuid) -> Result<Option<Order>, sqlx::Error> {
        sqlx::query_as(
            "SELECT o.order_id, o.customer_id, o.status, o.currency, o.total_cents, \
                    coalesce((SELECT json_agg(json_build_object( \
                                  'sku', l.sku, 'quantity', l.quantity, 'reserved', l.reserved, \
                                  'backordered', l.backordered, \
                                  'unit_price_cents', l.unit_price_cents) ORDER BY l.line_no) \
                                FROM read.order_lines l WHERE l.order_id = o.order_id), \
                             '[]'::json) AS lines, \
                    o.placed_at, o.updated_at, o.shipped_at, o.cancelled_at, o.carrier, \
                    o.tracking_number, o.version \
               FROM read.orders o WHERE o.order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Orders newest first (placement time, then order id, both descending), after `after`.
    pub async fn orders(
        &self,
        filter: &OrderFilter,
        after: Option<OrderKey>,
        limit: i64,
    ) -> Result<Page<OrderSummary>, sqlx::Error> {
        let mut query = QueryBuilder::<Postgres>::new("SELECT ");
        query.push(ORDER_SUMMARY_COLUMNS);
        query.push(" FROM read.orders WHERE true");
        if let Some(customer_id) = &filter.customer_id {
            query
                .push(" AND customer_id = ")
                .push_bind(customer_id.clone());
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(from) = filter.placed_from {
            query.push(" AND placed_at >= ").push_bind(from);
        }
        if let Some(before) = filter.placed_before {
            query.push(" AND placed_at < ").push_bind(before);
        }
        if let Some(after) = after {
            let placed_at = DateTime::<Utc>::from_timestamp_micros(after.placed_at_us)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            // A row comparison, so the (placed_at DESC, order_id DESC) indexes serve it.
            query
                .push(" AND (placed_at, order_id) < (")
                .push_bind(placed_at)
                .push(", ")
                .push_bind(after.order_id)
                .push(")");
        }
        query
            .push(" ORDER BY placed_at DESC, order_id DESC LIMIT ")
            .push_bind(limit + 1);
        let rows = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::from_rows(rows, limit))
    }

    /// A customer with the value of their orders per currency, in one snapshot.
    pub async fn customer(&self, customer_id: &str) -> Result<Option<Customer>, sqlx::Error> {
        sqlx::query_as(
            "SELECT c.customer_id, c.order_count, c.open_order_count, \
                    coalesce((SELECT json_object_agg(v.currency, v.value_cents) \
                                FROM read.customer_lifetime_values v \
                               WHERE v.customer_id = c.customer_id), '{}'::json) \
                        AS lifetime_value, \
                    c.first_order_at, c.last_order_at \
               FROM read.customers c WHERE c.customer_id = $1",
        )
        .bind(customer_id)
        .fetch_optional(&self.pool)
        .await
    }

    /// Sales of non-cancelled orders (the projector keeps cancelled ones out of these
    /// tables), per day or summed per sku over the days asked for.
    pub async fn sales(
        &self,
        grouping: SalesGrouping,
        filter: &SalesFilter,
    ) -> Result<Sales, sqlx::Error> {
        let mut query = QueryBuilder::<Postgres>::new("");
        match grouping {
            SalesGrouping::Day => query.push(
                "SELECT day, currency, orders, units, revenue_cents \
                   FROM read.daily_sales WHERE true",
            ),
            // Summing per-day counts is exact: an order is placed on one day and names a
            // sku at most once, so no order is counted twice for a sku.
            SalesGrouping::Sku => query.push(
                "SELECT sku, currency, sum(orders)::bigint AS orders, sum(units)::bigint AS units, \
                        sum(revenue_cents)::bigint AS revenue_cents \
                   FROM read.daily_sku_sales WHERE true",
            ),
        };
        if let Some(from) = filter.from {
            query.push(" AND day >= ").push_bind(from);
        }
        if let Some(to) = filter.to {
            query.push(" AND day <= ").push_bind(to);
        }
        if let Some(currency) = &filter.currency {
            query.push(" AND currency = ").push_bind(currency.clone());
        }
        Ok(match grouping {
            SalesGrouping::Day => {
                query.push(" ORDER BY day, currency");
                Sales::ByDay(query.build_query_as().fetch_all(&self.pool).await?)
            }
            SalesGrouping::Sku => {
                query.push(" GROUP BY sku, currency ORDER BY sku, currency");
                Sales::BySku(query.build_query_as().fetch_all(&self.pool).await?)
            }
        })
    }

    /// Replenishment requests oldest first (the order receipts fulfil them in), after `after`.
    pub async fn replenishments(
        &self,
        filter: &ReplenishmentFilter,
        after: Option<&ReplenishmentKey>,
        limit: i64,
    ) -> Result<Page<Replenishment>, sqlx::Error> {
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT sku, order_id, quantity, outstanding, status, requested_at, position \
               FROM read.replenishments WHERE true",
        );
        if let Some(sku) = &filter.sku {
            query.push(" AND sku = ").push_bind(sku.clone());
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = after {
            query
                .push(" AND (position, sku, order_id) > (")
                .push_bind(after.position)
                .push(", ")
                .push_bind(after.sku.clone())
                .push(", ")
                .push_bind(after.order_id)
                .push(")");
        }
        query
            .push(" ORDER BY position, sku, order_id LIMIT ")
            .push_bind(limit + 1);
        let rows = query.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::from_rows(rows, limit))
    }

    /// Every projection's progress beside the store's head, from one snapshot.
    pub async fn projections(&self) -> Result<Projections, sqlx::Error> {
        #[derive(FromRow)]
        struct Row {
            head: i64,
            name: Option<String>,
            position: Option<i64>,
            status: Option<String>,
            updated_at: Option<DateTime<Utc>>,
        }
        // The left join keeps the head when there is no projection row at all.
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT coalesce((SELECT position FROM event_store.head), 0)::bigint AS head, \
                    p.name, p.position, p.status, p.updated_at \
               FROM (SELECT 1) AS one LEFT JOIN read.projections p ON true \
              ORDER BY p.name",
        )
        .fetch_all(&self.pool)
        .await?;
        let head = rows.first().map_or(0, |r| r.head);
        let items: Vec<Projection> = rows
            .into_iter()
            .filter_map(|r| {
                Some(Projection {
                    name: r.name?,
                    position: r.position?,
                    status: r.status?,
                    updated_at: r.updated_at?,
                })
            })
            .collect();
        let position = items.iter().map(|p| p.position).min().unwrap_or(0);
        Ok(Projections {
            head,
            position,
            lag_events: (head - position).max(0),
            items,
        })
    }

    pub async fn stopped_projections(&self) -> Result<Vec<StoppedProjection>, sqlx::Error> {
        sqlx::query_as(
            "SELECT name, position, last_error FROM read.projections \
              WHERE status = 'stopped' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
    }
}
