"""The database: SQLAlchemy models, the async engine and session factory, Alembic migrations."""
