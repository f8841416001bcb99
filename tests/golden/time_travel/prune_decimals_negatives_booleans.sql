-- decimals as exact values of the column's scale, negative numbers, booleans
SELECT * FROM shop.orders WHERE amount >= 10.5 AND amount < 1000 AND qty > -5 AND paid = true
