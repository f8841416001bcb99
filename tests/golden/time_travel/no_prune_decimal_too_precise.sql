-- more digits than the column's scale: rounding would change the comparison
SELECT * FROM shop.orders WHERE amount = 10.555
