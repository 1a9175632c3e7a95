"""The SQLite results database."""
