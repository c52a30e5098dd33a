-- The sandbox's sample database: a small shop with the usual objects.
SET NAMES utf8mb4;
DROP DATABASE IF EXISTS shop;
CREATE DATABASE shop CHARACTER SET utf8mb4;
USE shop;
CREATE TABLE customers (
  id INT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(200) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  UNIQUE KEY (email)
) ENGINE=InnoDB;
CREATE TABLE orders (
  id INT PRIMARY KEY,
  customer_id INT NOT NULL,
  total DECIMAL(12,2) NOT NULL,
  note TEXT,
  placed_at DATETIME(6) NOT NULL,
  FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB;
-- The quick start's workload writes here; each row carries its commit time.
CREATE TABLE ledger (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  amount DECIMAL(12,2) NOT NULL,
  committed_at DATETIME(6) NOT NULL DEFAULT NOW(6)
) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('Customer ', seq), CONCAT('c', seq, '@example.com'), NOW(6) - INTERVAL seq MINUTE FROM seq_1_to_20000;
INSERT INTO orders SELECT seq, 1 + seq % 20000, ROUND(RAND(seq) * 1000, 2), IF(seq % 7 = 0, 'gift wrap, it''s a "surprise" 🎁', NULL), NOW(6) - INTERVAL seq SECOND FROM seq_1_to_100000;
CREATE VIEW order_totals AS SELECT customer_id, COUNT(*) AS orders, SUM(total) AS spent FROM orders GROUP BY customer_id;
DELIMITER ;;
CREATE PROCEDURE place_order(IN p_customer INT, IN p_total DECIMAL(12,2))
BEGIN
  INSERT INTO orders (id, customer_id, total, placed_at) SELECT COALESCE(MAX(id), 0) + 1, p_customer, p_total, NOW(6) FROM orders;
END;;
DELIMITER ;
