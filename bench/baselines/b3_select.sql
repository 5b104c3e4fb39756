-- B3 (docs/performance.md): a primary-key SELECT on the read table GET /v1/products/{sku} reads.
\set n random(0, PRODUCTS)
SELECT * FROM read.products WHERE sku = 'BENCH-' || :n;
