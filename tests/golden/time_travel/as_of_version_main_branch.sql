-- ... or a branch's: main is the current snapshot, still read as a past version
SELECT count(*) FROM shop.orders FOR VERSION AS OF 'main'
