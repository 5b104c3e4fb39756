-- History for analysts (docs/analysts.md): what happened to each product's stock and price,
-- event by event, so that stock can be asked for as it stood at any past instant. The
-- projector appends these rows in the transaction that applies their events, like every other
-- read model, and a rebuild makes them again from the store.
--
-- Both tables rely on time following position in the store (each append stamps its events
-- once it holds the lock that orders appends): the rows recorded at or before an instant are
-- those up to one position, so an instant is turned into a position through the index on
-- `at`, and each product's rows are then read by (sku, position), the key.

-- One row per event of a product's stream that changes its units on hand or reserved
-- (registered, stock_received, stock_adjusted, stock_reserved, backorder_filled,
-- stock_released, stock_shipped), with the levels after it.
CREATE TABLE read.stock_movements (
    sku             text        NOT NULL,
    position        bigint      NOT NULL,            -- the event's global position
    at              timestamptz NOT NULL,            -- when the event was recorded
    event           text        NOT NULL,            -- its routing key: product.stock_received
    on_hand_change  bigint      NOT NULL,
    reserved_change bigint      NOT NULL,
    on_hand         bigint      NOT NULL,            -- the levels after the event
    reserved        bigint      NOT NULL,
    available       bigint      NOT NULL,
    order_id        uuid,                            -- reservations, fills, releases, shipments
    reference       text,                            -- receipts: the delivery's reference
    reason          text,                            -- adjustments; releases: the cancellation's
    PRIMARY KEY (sku, position)
);
CREATE INDEX stock_movements_at ON read.stock_movements (at, position);

-- One row per price a product took: at its registration, and at each price change.
CREATE TABLE read.product_prices (
    sku              text        NOT NULL,
    position         bigint      NOT NULL,
    at               timestamptz NOT NULL,
    unit_price_cents bigint      NOT NULL,
    PRIMARY KEY (sku, position)
);
CREATE INDEX product_prices_at ON read.product_prices (at, position);

-- Owned and written by the projector like the other read tables (see the roles migration);
-- read by the query service and the analysts. (The default privileges cover the tables the
-- projector creates in a rebuild, not these, which the migrating role creates.)
ALTER TABLE read.stock_movements OWNER TO stockflow_projector;
ALTER TABLE read.product_prices OWNER TO stockflow_projector;
GRANT SELECT ON read.stock_movements, read.product_prices TO stockflow_query, stockflow_analyst;
