"""The store: SQLModel tables, the async engine, migrations, queries and exports."""
