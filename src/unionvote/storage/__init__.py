"""Durable state: SQLAlchemy 2 tables, sessions and Alembic migrations."""
