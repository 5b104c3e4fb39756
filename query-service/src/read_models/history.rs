//! The history read models (`read.stock_movements`, `read.product_prices`): a product's stock
//! movements, and every product's stock as it stood at an instant. Both turn instants into
//! positions through the tables' `at` indexes (time follows position in the store, see
//! docs/analysts.md), then read each product's rows by its key: one statement a page.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Page, ReadModels};

/// One change to a product's stock, with the levels after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Movement {
    /// The event's global position.
    pub position: i64,
    /// When the event was recorded.
    pub at: DateTime<Utc>,
    /// The event's routing key: `product.registered`, `product.stock_received`,
    /// `product.stock_adjusted`, `product.stock_reserved`, `product.backorder_filled`,
    /// `product.stock_released` or `product.stock_shipped`.
    #[schema(example = "product.stock_received")]
    pub event: String,
    pub on_hand_change: i64,
    pub reserved_change: i64,
    pub on_hand: i64,
    pub reserved: i64,
    /// `on_hand - reserved`.
    pub available: i64,
    /// The order a reservation, fill, release or shipment was for.
    #[schema(required = true)]
    pub order_id: Option<Uuid>,
    /// A receipt's reference, when it had one.
    #[schema(required = true)]
    pub reference: Option<String>,
    /// An adjustment's reason, or the reason the order of a release was cancelled with.
    #[schema(required = true)]
    pub reason: Option<String>,
}

/// Which of a product's movements: recorded in `[from, before)`, after `after`.
#[derive(Debug, Clone, Default)]
pub struct MovementFilter {
    pub from: Option<DateTime<Utc>>,
    /// Exclusive, so that a whole day is `[day, next day)`.
    pub before: Option<DateTime<Utc>>,
}

/// Where a movement listing goes on: the product and the last position shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementKey {
    pub sku: String,
    pub position: i64,
}

/// One product as it stood at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StockItem {
    #[schema(example = "SKU-1")]
    pub sku: String,
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    /// The price in force at the instant.
    pub unit_price_cents: i64,
    /// `on_hand × unit_price_cents` (at most 2^63 − 1).
    pub stock_value_cents: i64,
}

/// A page of the stock at an instant: the products by sku, and the position the instant
/// stands for.
#[derive(Debug)]
pub struct StockAt {
    pub position: i64,
    pub page: Page<StockItem>,
}

/// Where a stock listing goes on: the last sku shown, and the instant and position of its
/// first page, so that every page shows the same moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockKey {
    pub sku: String,
    pub as_of_us: i64,
    pub position: i64,
}

impl ReadModels {
    /// A product's movements oldest first, after `after` (a position); `None` when the
    /// product is unknown. One statement: the product and its page come from one snapshot.
    pub async fn movements(
        &self,
        sku: &str,
        filter: &MovementFilter,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Option<Page<Movement>>, sqlx::Error> {
        let rows = sqlx::query!(
            r#"SELECT m.position AS "position?", m.at AS "at?", m.event AS "event?",
                      m.on_hand_change AS "on_hand_change?", m.reserved_change AS "reserved_change?",
                      m.on_hand AS "on_hand?", m.reserved AS "reserved?",
                      m.available AS "available?", m.order_id AS "order_id?",
                      m.reference AS "reference?", m.reason AS "reason?"
                 FROM read.products p
                 LEFT JOIN LATERAL (
                      SELECT position, at, event, on_hand_change, reserved_change, on_hand,
                             reserved, available, order_id, reference, reason
                        FROM read.stock_movements m
                       WHERE m.sku = p.sku
                         AND m.position > $2
                         -- The period as positions (the key's range), then exactly.
                         AND m.position >= coalesce(
                               (SELECT position FROM read.stock_movements
                                 WHERE at >= coalesce($3::timestamptz, '-infinity') ORDER BY at, position
                                 LIMIT 1),
                               9223372036854775807)
                         AND m.position <= coalesce(
                               (SELECT position FROM read.stock_movements
                                 WHERE at < coalesce($4::timestamptz, 'infinity')
                                 ORDER BY at DESC, position DESC LIMIT 1),
                               0)
                         AND m.at >= coalesce($3::timestamptz, '-infinity')
                         AND m.at < coalesce($4::timestamptz, 'infinity')
                       ORDER BY m.position
                       LIMIT $5
                 ) m ON true
                WHERE p.sku = $1
                ORDER BY m.position"#,
            sku,
            after.unwrap_or(0),
            filter.from,
            filter.before,
            limit + 1,
        )
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let items = rows
            .into_iter()
            .filter_map(|r| {
                Some(Movement {
                    position: r.position?,
                    at: r.at?,
                    event: r.event?,
                    on_hand_change: r.on_hand_change?,
                    reserved_change: r.reserved_change?,
                    on_hand: r.on_hand?,
                    reserved: r.reserved?,
                    available: r.available?,
                    order_id: r.order_id,
                    reference: r.reference,
                    reason: r.reason,
                })
            })
            .collect();
        Ok(Some(Page::from_rows(items, limit)))
    }

    /// Every product registered by `as_of` (inclusive) as it stood then, by sku after
    /// `after`, valued at the price in force then. `at_position` pins the instant to the
    /// position an earlier page found for it.
    pub async fn stock_at(
        &self,
        as_of: DateTime<Utc>,
        at_position: Option<i64>,
        currency: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<StockAt, sqlx::Error> {
        let rows = sqlx::query!(
            r#"WITH cut AS (
                   SELECT coalesce($2::bigint, greatest(
                              (SELECT position FROM read.stock_movements
                                WHERE at <= $1 ORDER BY at DESC, position DESC LIMIT 1),
                              (SELECT position FROM read.product_prices
                                WHERE at <= $1 ORDER BY at DESC, position DESC LIMIT 1)),
                          0) AS position
               )
               SELECT cut.position AS "position!", s.sku AS "sku?", s.currency AS "currency?",
                      s.on_hand AS "on_hand?", s.reserved AS "reserved?",
                      s.available AS "available?", s.unit_price_cents AS "unit_price_cents?"
                 FROM cut
                 LEFT JOIN LATERAL (
                      SELECT p.sku, p.currency, m.on_hand, m.reserved, m.available,
                             pr.unit_price_cents
                        FROM read.products p
                       CROSS JOIN LATERAL (
                             SELECT on_hand, reserved, available FROM read.stock_movements m
                              WHERE m.sku = p.sku AND m.position <= cut.position
                              ORDER BY m.position DESC LIMIT 1) m
                       CROSS JOIN LATERAL (
                             SELECT unit_price_cents FROM read.product_prices pr
                              WHERE pr.sku = p.sku AND pr.position <= cut.position
                              ORDER BY pr.position DESC LIMIT 1) pr
                       WHERE p.sku > $3 AND ($4::text IS NULL OR p.currency = $4)
                       ORDER BY p.sku
                       LIMIT $5
                 ) s ON true
                ORDER BY s.sku"#,
            as_of,
            at_position,
            after.unwrap_or(""),
            currency,
            limit + 1,
        )
        .fetch_all(&self.pool)
        .await?;
        let position = rows.first().map_or(0, |r| r.position);
        let items = rows
            .into_iter()
            .filter_map(|r| {
                let (on_hand, unit_price_cents) = (r.on_hand?, r.unit_price_cents?);
                Some(StockItem {
                    sku: r.sku?,
                    currency: r.currency?,
                    on_hand,
                    reserved: r.reserved?,
                    available: r.available?,
                    unit_price_cents,
                    stock_value_cents: on_hand.saturating_mul(unit_price_cents),
                })
            })
            .collect();
        Ok(StockAt {
            position,
            page: Page::from_rows(items, limit),
        })
    }
}
