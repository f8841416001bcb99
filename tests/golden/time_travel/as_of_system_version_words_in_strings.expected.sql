-- "shop@1001"."orders" := shop.orders at snapshot 1001: every file (columns id, status, amount, placed, ts, logged, score, qty, paid, by column name)
SELECT 'FOR SYSTEM_VERSION AS OF 1' AS s /* FOR SYSTEM_VERSION AS OF 2 */ FROM "shop@1001".orders
