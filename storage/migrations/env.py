"""Alembic environment: always given a connection by storage.migrate."""

from alembic import context
from sqlmodel import SQLModel

from storage.migrate import include_name, load_models

load_models()
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
    include_name=include_name,  # the full-text objects are not in the models
)
with context.begin_transaction():
    context.run_migrations()
