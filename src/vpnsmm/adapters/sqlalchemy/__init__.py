"""SQLAlchemy 2 (Core, async) persistence: SQLite by default, PostgreSQL in production.

Rows are mapped to attrs domain objects explicitly (no ORM mapping), so domain objects never hold a
session and never lazy-load.
"""
