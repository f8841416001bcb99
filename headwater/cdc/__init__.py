"""Change data capture: PostgreSQL logical replication and the MySQL/MariaDB binary log."""
