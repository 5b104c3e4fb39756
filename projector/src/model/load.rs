//! Reading the rows a batch's events touch, from the schema the transaction's search path
//! names. The tables are named without a schema; the query macros check these statements
//! against a database whose search path resolves them to `read` (see scripts/sqlx-prepare).

use std::collections::HashSet;

use sqlx::PgConnection;
use stockflow_events::{Aggregate, Envelope, Event, order_stream};
use uuid::Uuid;

use super::ApplyError;
use super::rows::{LineRow, OrderRow, ProductRow, ReplenishmentRow, Working};

/// What a batch needs loaded: the products and orders its events are about (new ones are
/// made by their first event), the skus whose receipts fulfil open replenishments, and the
/// orders whose releases the batch holds without their cancellation (it fell in the batch
/// before: a rebuild's batches may split a command).
#[derive(Debug, Default)]
struct Needed {
    skus: HashSet<String>,
    order_ids: HashSet<Uuid>,
    receipt_skus: HashSet<String>,
    cancellations: HashSet<Uuid>,
}

impl Needed {
    fn of(events: &[Envelope]) -> Needed {
        let mut needed = Needed::default();
        let mut cancelled = HashSet::new();
        for envelope in events {
            match &envelope.event {
                Event::OrderCancelled(e) => {
                    cancelled.insert(e.order_id);
                }
                Event::StockReleased(e) if !cancelled.contains(&e.order_id) => {
                    needed.cancellations.insert(e.order_id);
                }
                _ => {}
            }
            match &envelope.event {
                Event::StockReceived(e) => {
                    needed.skus.insert(e.sku.clone());
                    needed.receipt_skus.insert(e.sku.clone());
                }
                Event::OrderPlaced(_) => {}
                e if e.aggregate() == Aggregate::Product => {
                    if let Some(sku) = envelope.stream_id.strip_prefix("product-") {
                        needed.skus.insert(sku.to_owned());
                    }
                }
                _ => {
                    if let Some(id) = envelope
                        .stream_id
                        .strip_prefix("order-")
                        .and_then(|id| id.parse().ok())
                    {
                        needed.order_ids.insert(id);
                    }
                }
            }
        }
        needed
    }
}

/// Loads into `work` the stored rows `events` touch.
pub(super) async fn load(
    db: &mut PgConnection,
    events: &[Envelope],
    work: &mut Working,
) -> Result<(), ApplyError> {
    let needed = Needed::of(events);
    let skus: Vec<String> = needed.skus.into_iter().collect();
    let order_ids: Vec<Uuid> = needed.order_ids.into_iter().collect();
    let receipt_skus: Vec<String> = needed.receipt_skus.into_iter().collect();
    let cancelled: Vec<String> = needed.cancellations.iter().map(order_stream).collect();
    if !skus.is_empty() {
        let rows = sqlx::query_as!(
            ProductRow,
            "SELECT sku, name, unit_price_cents, currency, backorder_policy, status, on_hand,
                    reserved, available, backordered, version, updated_at
               FROM products WHERE sku = ANY($1)",
            &skus,
        )
        .fetch_all(&mut *db)
        .await?;
        work.products
            .extend(rows.into_iter().map(|r| (r.sku.clone(), r)));
    }
    if !order_ids.is_empty() {
        let rows = sqlx::query_as!(
            OrderRow,
            "SELECT order_id, customer_id, status, currency, total_cents, line_count, placed_at,
                    updated_at, shipped_at, cancelled_at, carrier, tracking_number, version
               FROM orders WHERE order_id = ANY($1)",
            &order_ids,
        )
        .fetch_all(&mut *db)
        .await?;
        work.orders
            .extend(rows.into_iter().map(|r| (r.order_id, r)));
        let lines = sqlx::query_as!(
            LineRow,
            "SELECT order_id, line_no, sku, quantity, reserved, backordered, unit_price_cents
               FROM order_lines WHERE order_id = ANY($1) ORDER BY order_id, line_no",
            &order_ids,
        )
        .fetch_all(&mut *db)
        .await?;
        for line in lines {
            work.lines.entry(line.order_id).or_default().push(line);
        }
    }
    if !receipt_skus.is_empty() {
        let rows = sqlx::query_as!(
            ReplenishmentRow,
            "SELECT sku, order_id, quantity, outstanding, status, requested_at, position
               FROM replenishments WHERE sku = ANY($1) AND status = 'open'",
            &receipt_skus,
        )
        .fetch_all(&mut *db)
        .await?;
        work.replenishments
            .extend(rows.into_iter().map(|r| ((r.sku.clone(), r.order_id), r)));
    }
    if !cancelled.is_empty() {
        load_cancellations(db, &cancelled, work).await?;
    }
    Ok(())
}

/// The reasons of the cancellations in these order streams, from the event store: the read
/// models keep no reason, and the store has the cancellation whatever batch it came in.
async fn load_cancellations(
    db: &mut PgConnection,
    streams: &[String],
    work: &mut Working,
) -> Result<(), ApplyError> {
    let rows = sqlx::query!(
        r#"SELECT position, type_version, data::text AS "data!"
             FROM event_store.events
            WHERE stream_id = ANY($1) AND event_type = 'order.cancelled'"#,
        streams,
    )
    .fetch_all(&mut *db)
    .await?;
    for row in rows {
        let version = u32::try_from(row.type_version).unwrap_or(0);
        match Event::decode_str("order.cancelled", version, &row.data) {
            Ok(Event::OrderCancelled(e)) => {
                work.cancellations.insert(e.order_id, e.reason);
            }
            Ok(_) => {}
            Err(e) => {
                return Err(ApplyError::Undecodable {
                    position: row.position,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(())
}
