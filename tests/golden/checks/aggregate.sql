-- checks/aggregate.yaml: the checks of shop.orders, compiled

-- the scan: every check's aggregates in one pass over the table
SELECT
  avg("amount") AS c0_agg,
  stddev_samp("ratio") AS c1_agg,
  min("quantity") AS c2_agg,
  max("quantity") AS c3_agg,
  sum("amount") FILTER (WHERE (status = 'paid')) AS c4_agg,
  quantile_cont("amount", 0.95) AS c5_agg,
  quantile_cont("amount", 0.5) AS c6_agg,
  stddev_samp("amount") AS c7_agg
FROM "shop"."orders";

-- c0 mean_amount (aggregate, error): mean(amount) in [10, 500]
--   read from the scan: c0_agg

-- c1 stddev_ratio (aggregate, error): stddev(ratio) in [None, 0.5]
--   read from the scan: c1_agg

-- c2 min_quantity (aggregate, error): min(quantity) in [1, None]
--   read from the scan: c2_agg

-- c3 max_quantity (aggregate, error): max(quantity) in [None, 10000]
--   read from the scan: c3_agg

-- c4 sum_amount (aggregate, error): sum(amount) in [0, None]
--   read from the scan: c4_agg

-- c5 quantile_amount (aggregate, error): quantile(amount) in [None, 2000]
--   read from the scan: c5_agg

-- c6 median_amount (aggregate, error): quantile(amount) in [5, 100]
--   read from the scan: c6_agg

-- c7 stddev_amount (aggregate, error): stddev(amount) in [None, 1000]
--   read from the scan: c7_agg
