"""Alembic migrations of the ledger schema (SQLite and PostgreSQL)."""
