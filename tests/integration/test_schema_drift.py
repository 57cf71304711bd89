"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bopo.db.base import Base
from bopo.services.context import Context


def test_the_migrated_database_matches_the_models(ctx: Context) -> None:
    with ctx.db.engine.connect() as conn:
        migration = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(migration, Base.metadata) == []
