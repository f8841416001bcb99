-- the clause's words inside a string or a comment stay as they are
SELECT 'FOR SYSTEM_VERSION AS OF 1' AS s /* FOR SYSTEM_VERSION AS OF 2 */ FROM shop.orders FOR SYSTEM_VERSION AS OF 1001
