//! Reading the read models (schema `read`, kept by the projector): one function per question
//! the query API answers (docs/api.md), returning the rows as the API shows them (`rows`).
//! Filters arrive already validated.

mod history;
mod rows;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

pub use history::{Movement, MovementFilter, MovementKey, StockAt, StockItem, StockKey};
pub use rows::{
    BackorderPolicy, Customer, DaySales, Order, OrderKey, OrderLine, OrderStatus, OrderSummary,
    Product, ProductStatus, Projection, Projections, Replenishment, ReplenishmentKey,
    ReplenishmentStatus, SalesGrouping, SalesRows, SkuSales, StoppedProjection, UnknownValue,
};

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

#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub status: Option<ProductStatus>,
    pub max_available: Option<i64>,
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

#[derive(Debug, Clone, Default)]
pub struct SalesFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ReplenishmentFilter {
    pub sku: Option<String>,
    pub status: Option<ReplenishmentStatus>,
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
        sqlx::query_scalar!(
            r#"SELECT coalesce(min(position), 0)::bigint AS "position!" FROM read.projections"#
        )
        .fetch_one(&self.pool)
        .await
    }

    pub async fn product(&self, sku: &str) -> Result<Option<Product>, sqlx::Error> {
        sqlx::query_as!(
            Product,
            r#"SELECT sku, name, unit_price_cents, currency,
                      backorder_policy AS "backorder_policy: BackorderPolicy",
                      status AS "status: ProductStatus", on_hand, reserved, available,
                      backordered, version, updated_at
                 FROM read.products WHERE sku = $1"#,
            sku,
        )
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
        let row = sqlx::query!(
            r#"SELECT o.order_id, o.customer_id, o.status AS "status: OrderStatus", o.currency,
                      o.total_cents,
                      coalesce((SELECT json_agg(json_build_object(
                                    'sku', l.sku, 'quantity', l.quantity, 'reserved', l.reserved,
                                    'backordered', l.backordered,
                                    'unit_price_cents', l.unit_price_cents) ORDER BY l.line_no)
                                  FROM read.order_lines l WHERE l.order_id = o.order_id),
                               '[]'::json) AS "lines!: Json<Vec<OrderLine>>",
                      o.placed_at, o.updated_at, o.shipped_at, o.cancelled_at, o.carrier,
                      o.tracking_number, o.version
                 FROM read.orders o WHERE o.order_id = $1"#,
            order_id,
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Order {
            order_id: r.order_id,
            customer_id: r.customer_id,
            status: r.status,
            currency: r.currency,
            total_cents: r.total_cents,
            lines: r.lines.0,
            placed_at: r.placed_at,
            updated_at: r.updated_at,
            shipped_at: r.shipped_at,
            cancelled_at: r.cancelled_at,
            carrier: r.carrier,
            tracking_number: r.tracking_number,
            version: r.version,
        }))
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
        let row = sqlx::query!(
            r#"SELECT c.customer_id, c.order_count, c.open_order_count,
                      coalesce((SELECT json_object_agg(v.currency, v.value_cents)
                                  FROM read.customer_lifetime_values v
                                 WHERE v.customer_id = c.customer_id), '{}'::json)
                          AS "lifetime_value!: Json<BTreeMap<String, i64>>",
                      c.first_order_at, c.last_order_at
                 FROM read.customers c WHERE c.customer_id = $1"#,
            customer_id,
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Customer {
            customer_id: r.customer_id,
            order_count: r.order_count,
            open_order_count: r.open_order_count,
            lifetime_value: r.lifetime_value.0,
            first_order_at: r.first_order_at,
            last_order_at: r.last_order_at,
        }))
    }

    /// Sales of non-cancelled orders (the projector keeps cancelled ones out of these
    /// tables), per day or summed per sku over the days asked for.
    pub async fn sales(
        &self,
        grouping: SalesGrouping,
        filter: &SalesFilter,
    ) -> Result<SalesRows, sqlx::Error> {
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
                SalesRows::ByDay(query.build_query_as().fetch_all(&self.pool).await?)
            }
            SalesGrouping::Sku => {
                query.push(" GROUP BY sku, currency ORDER BY sku, currency");
                SalesRows::BySku(query.build_query_as().fetch_all(&self.pool).await?)
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
        struct Row {
            head: i64,
            name: Option<String>,
            position: Option<i64>,
            status: Option<String>,
            updated_at: Option<DateTime<Utc>>,
        }
        // The left join keeps the head when there is no projection row at all.
        let rows = sqlx::query_as!(
            Row,
            r#"SELECT coalesce((SELECT position FROM event_store.head), 0)::bigint AS "head!",
                      p.name AS "name?", p.position AS "position?", p.status AS "status?",
                      p.updated_at AS "updated_at?"
                 FROM (SELECT 1) AS one LEFT JOIN read.projections p ON true
                ORDER BY p.name"#,
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
        sqlx::query_as!(
            StoppedProjection,
            "SELECT name, position, last_error FROM read.projections \
              WHERE status = 'stopped' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
    }
}
