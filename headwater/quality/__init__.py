"""Data quality: checks declared next to tables, compiled to few DuckDB queries, results kept."""
