-- checks/relationships.yaml: the checks of shop.orders, compiled

-- c0 relationships_customer (relationships, error): every customer in shop.customers.id
--   its own query:
SELECT count(*) FILTER (WHERE true AND "customer" IS NOT NULL), count(*) FILTER (WHERE true AND "customer" IS NOT NULL AND "customer" NOT IN (SELECT __headwater_other."id" FROM "shop"."customers" AS __headwater_other WHERE __headwater_other."id" IS NOT NULL)) FROM "shop"."orders";
--   failing rows:
SELECT * FROM "shop"."orders" WHERE true AND "customer" IS NOT NULL AND "customer" NOT IN (SELECT __headwater_other."id" FROM "shop"."customers" AS __headwater_other WHERE __headwater_other."id" IS NOT NULL);

-- c1 relationships_Sales Rep (relationships, error, mostly 0.99): every Sales Rep in hr.employees.Employee Number
--   its own query:
SELECT count(*) FILTER (WHERE (status <> 'draft') AND "Sales Rep" IS NOT NULL), count(*) FILTER (WHERE (status <> 'draft') AND "Sales Rep" IS NOT NULL AND "Sales Rep" NOT IN (SELECT __headwater_other."Employee Number" FROM "hr"."employees" AS __headwater_other WHERE __headwater_other."Employee Number" IS NOT NULL)) FROM "shop"."orders";
--   failing rows:
SELECT * FROM "shop"."orders" WHERE (status <> 'draft') AND "Sales Rep" IS NOT NULL AND "Sales Rep" NOT IN (SELECT __headwater_other."Employee Number" FROM "hr"."employees" AS __headwater_other WHERE __headwater_other."Employee Number" IS NOT NULL);
