-- B4 (docs/performance.md): one INSERT … SELECT building a read table straight from the events table:
-- each product's levels as of its last event that carries them. The benchmark times it in a
-- transaction it then rolls back.
CREATE TABLE b4_products (sku text PRIMARY KEY, on_hand bigint, reserved bigint, available bigint, version bigint);
INSERT INTO b4_products (sku, on_hand, reserved, available, version)
SELECT DISTINCT ON (stream_id) substr(stream_id, 9), (data->>'on_hand')::bigint, (data->>'reserved')::bigint,
       (data->>'available')::bigint, stream_version
  FROM event_store.events
 WHERE stream_id LIKE 'product-%' AND data ? 'on_hand'
 ORDER BY stream_id, stream_version DESC;
