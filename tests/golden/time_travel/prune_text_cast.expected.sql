-- "shop"."customers" := shop.customers at snapshot 2001: files where ("name" >= 'M' AND "country" = 'FR') (columns id, name, country)
SELECT * FROM shop.customers WHERE name >= CAST('M' AS VARCHAR) AND country = 'FR'::TEXT
