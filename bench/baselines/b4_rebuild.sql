-- B4 (SPEC §8): one INSERT … SELECT building a read table straight from the events table:
-- the product levels as of each product's last level-bearing event.
\timing on
DROP TABLE IF EXISTS b4_products;
CREATE TABLE b4_products (sku text PRIMARY KEY, on_hand bigint, reserved bigint, available bigint, version bigint);
INSERT INTO b4_products (sku, on_hand, reserved, available, version)
SELECT DISTINCT ON (stream_id) substr(stream_id, 9), (data->>'on_hand')::bigint, (data->>'reserved')::bigint,
       (data->>'available')::bigint, stream_version
  FROM event_store.events
 WHERE stream_id LIKE 'product-%' AND data ? 'on_hand'
 ORDER BY stream_id, stream_version DESC;
SELECT count(*) AS events FROM event_store.events;
DROP TABLE b4_products;
