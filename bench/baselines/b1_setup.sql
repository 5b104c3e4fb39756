-- B1 (docs/performance.md): the raw SQL of a place-order, stock update + order insert in one transaction.
DROP TABLE IF EXISTS b1_orders, b1_products;
CREATE TABLE b1_products (sku text PRIMARY KEY, on_hand bigint NOT NULL, reserved bigint NOT NULL DEFAULT 0);
CREATE TABLE b1_orders (order_id uuid PRIMARY KEY, sku text NOT NULL, quantity integer NOT NULL,
                        placed_at timestamptz NOT NULL DEFAULT now());
INSERT INTO b1_products (sku, on_hand) SELECT 'BENCH-' || i, 1000000000 FROM generate_series(0, 999) i;
