-- One row per customer, as the lab's Glue job defines dim_customers.
SELECT
    customerNumber,
    customerName,
    contactLastName,
    contactFirstName,
    phone,
    addressLine1,
    addressLine2,
    creditLimit
FROM raw.customers
