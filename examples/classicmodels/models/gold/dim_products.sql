-- Products with the description of their product line.
SELECT
    p.productCode,
    p.productName,
    p.productLine,
    p.productScale,
    p.productVendor,
    p.productDescription,
    pl.textDescription AS productLineDescription
FROM raw.products AS p
LEFT JOIN raw.productlines AS pl USING (productLine)
