-- quoting: names with spaces, a keyword, a double quote, mixed case
SELECT * FROM sales."Order Lines" WHERE "Status" = 'open' AND "select" LIKE 'a%' AND "say ""hi""" = 'x' AND "Unit Price" > 9.5
