-- a string cast to text is text: it prunes a text column (a cast to another type does not)
SELECT * FROM shop.customers WHERE name >= CAST('M' AS VARCHAR) AND country = 'FR'::TEXT
