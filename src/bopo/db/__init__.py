"""Storage: SQLAlchemy models, engine and transactions, shared queries, migrations."""
