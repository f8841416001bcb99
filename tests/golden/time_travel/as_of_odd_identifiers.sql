-- quoting: a table name with a space, the snapshot's schema quoted, odd column names kept
SELECT "Line ID", "select", "say ""hi""" FROM sales."Order Lines" FOR VERSION AS OF 3001 WHERE "Status" = 'open' AND "Unit Price" >= 9.5
