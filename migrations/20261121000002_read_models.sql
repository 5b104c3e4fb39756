-- The read models: tables shaped for the queries of SPEC §6, kept by the projector from the
-- events. Everything here can be rebuilt from event_store.events.
CREATE SCHEMA IF NOT EXISTS read;

CREATE TABLE read.products (
    sku              text        PRIMARY KEY,
    name             text        NOT NULL,
    unit_price_cents bigint      NOT NULL,
    currency         text        NOT NULL,
    backorder_policy text        NOT NULL,
    status           text        NOT NULL,           -- active | discontinued
    on_hand          bigint      NOT NULL,
    reserved         bigint      NOT NULL,
    available        bigint      NOT NULL,
    backordered      bigint      NOT NULL,
    version          bigint      NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX products_status_sku ON read.products (status, sku);
CREATE INDEX products_available_sku ON read.products (available, sku);

CREATE TABLE read.orders (
    order_id        uuid        PRIMARY KEY,
    customer_id     text        NOT NULL,
    status          text        NOT NULL,            -- ready | backordered | cancelled | shipped
    currency        text        NOT NULL,
    total_cents     bigint      NOT NULL,
    line_count      integer     NOT NULL,
    placed_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    shipped_at      timestamptz,
    cancelled_at    timestamptz,
    carrier         text,
    tracking_number text,
    version         bigint      NOT NULL
);
-- Newest first, with the order id breaking ties, for keyset pagination under each filter.
CREATE INDEX orders_placed ON read.orders (placed_at DESC, order_id DESC);
CREATE INDEX orders_customer_placed ON read.orders (customer_id, placed_at DESC, order_id DESC);
CREATE INDEX orders_status_placed ON read.orders (status, placed_at DESC, order_id DESC);

CREATE TABLE read.order_lines (
    order_id         uuid    NOT NULL,
    line_no          integer NOT NULL,               -- the line's place in the order, from 1
    sku              text    NOT NULL,
    quantity         bigint  NOT NULL,
    reserved         bigint  NOT NULL,
    backordered      bigint  NOT NULL,
    unit_price_cents bigint  NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_sku ON read.order_lines (sku);

CREATE TABLE read.customers (
    customer_id      text        PRIMARY KEY,
    order_count      bigint      NOT NULL,
    open_order_count bigint      NOT NULL,           -- ready or backordered
    first_order_at   timestamptz NOT NULL,
    last_order_at    timestamptz NOT NULL
);

-- Per customer and currency: the total of their orders that were not cancelled.
CREATE TABLE read.customer_lifetime_values (
    customer_id text   NOT NULL,
    currency    text   NOT NULL,
    value_cents bigint NOT NULL,
    PRIMARY KEY (customer_id, currency)
);

-- Sales of non-cancelled orders by UTC placement day.
CREATE TABLE read.daily_sales (
    day           date   NOT NULL,
    currency      text   NOT NULL,
    orders        bigint NOT NULL,
    units         bigint NOT NULL,
    revenue_cents bigint NOT NULL,
    PRIMARY KEY (day, currency)
);

-- The same by sku: `orders` counts the orders with a line of that sku.
CREATE TABLE read.daily_sku_sales (
    day           date   NOT NULL,
    sku           text   NOT NULL,
    currency      text   NOT NULL,
    orders        bigint NOT NULL,
    units         bigint NOT NULL,
    revenue_cents bigint NOT NULL,
    PRIMARY KEY (day, sku, currency)
);
CREATE INDEX daily_sku_sales_sku_day ON read.daily_sku_sales (sku, day);

-- Requests to suppliers; receipts of a sku fulfil its open requests oldest first.
CREATE TABLE read.replenishments (
    sku          text        NOT NULL,
    order_id     uuid        NOT NULL,
    quantity     bigint      NOT NULL,
    outstanding  bigint      NOT NULL,
    status       text        NOT NULL,               -- open | fulfilled
    requested_at timestamptz NOT NULL,
    position     bigint      NOT NULL,               -- of the request: the order of fulfilment
    PRIMARY KEY (sku, order_id)
);
CREATE INDEX replenishments_sku_position ON read.replenishments (sku, position);
CREATE INDEX replenishments_status_position ON read.replenishments (status, position);

-- How far each projection has applied the store. The projector moves them together, in the
-- transaction of the changes.
CREATE TABLE read.projections (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0,
    status     text        NOT NULL DEFAULT 'running', -- running | stopped
    last_error text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO read.projections (name) VALUES
    ('products'), ('orders'), ('customers'), ('daily_sales'), ('replenishments');

-- Analysts read the read models, and nothing else, with this role. It cannot log in by
-- itself: grant it to a login role (see docs/analysts.md).
-- Roles belong to the whole server, which several stockflow databases may share: another
-- database's migration may be creating it at this very moment.
DO $$
BEGIN
    CREATE ROLE stockflow_analyst NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
GRANT USAGE ON SCHEMA read TO stockflow_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA read TO stockflow_analyst;
