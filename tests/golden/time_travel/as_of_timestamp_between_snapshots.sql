-- FOR TIMESTAMP AS OF: the snapshot current at that moment (a time without a zone is UTC)
SELECT id FROM shop.orders FOR TIMESTAMP AS OF TIMESTAMP '2026-11-01 11:30:00'
