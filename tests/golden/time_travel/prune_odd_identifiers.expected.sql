-- "sales"."Order Lines" := sales.Order Lines at snapshot 3002: files where ((("Status" = 'open' AND "select" STARTS WITH 'a') AND "say ""hi""" = 'x') AND "Unit Price" > 9.5000) (columns Line ID, Unit Price, select, Status, say "hi")
SELECT * FROM sales."Order Lines" WHERE "Status" = 'open' AND "select" LIKE 'a%' AND "say ""hi""" = 'x' AND "Unit Price" > 9.5
