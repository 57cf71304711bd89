"""Alembic environment: runs on the connection bopo hands over, or on a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bopo.db import models  # noqa: F401  (registers the tables)
from bopo.db.base import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url or pass a connection"
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()
