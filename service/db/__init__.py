"""The operators' source of truth: exchanges and their symbols (SQLAlchemy 2.x)."""
