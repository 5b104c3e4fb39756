\set n random(0, 999)
BEGIN;
UPDATE b1_products SET reserved = reserved + 1 WHERE sku = 'BENCH-' || :n AND on_hand - reserved >= 1;
INSERT INTO b1_orders (order_id, sku, quantity) VALUES (gen_random_uuid(), 'BENCH-' || :n, 1);
COMMIT;
