-- "sales@3001#0"."Order Lines" := sales.Order Lines at snapshot 3001: files where ("Status" = 'open' AND "Unit Price" >= 9.5000) (columns Line ID, Unit Price, select, Status, say "hi")
SELECT "Line ID", "select", "say ""hi""" FROM "sales@3001#0"."Order Lines" WHERE "Status" = 'open' AND "Unit Price" >= 9.5
