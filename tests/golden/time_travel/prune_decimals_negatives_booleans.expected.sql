-- "shop"."orders" := shop.orders at snapshot 1003: files where ((("amount" >= 10.50 AND "amount" < 1000.00) AND "qty" > -5) AND "paid" = true) (columns id, status, amount, placed, ts, logged, score, qty, paid, note, by column name)
SELECT * FROM shop.orders WHERE amount >= 10.5 AND amount < 1000 AND qty > -5 AND paid = true
