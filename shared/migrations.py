"""Alembic per service: each service keeps its revisions in `services/<name>/migrations`.

`upgrade(service, url)` creates the service's database if missing and migrates it to head.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import inbox, outbox

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


async def ensure_database(url: str) -> None:
    """CREATE DATABASE if the one named in `url` does not exist yet."""
    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{target.database}"')
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
    finally:
        await conn.close()


async def upgrade_async(service: str, url: str, revision: str = "head") -> None:
    await ensure_database(url)
    # Alembic's env runs its own event loop: give it a thread.
    await asyncio.to_thread(command.upgrade, alembic_config(service, url), revision)


def upgrade(service: str, url: str, revision: str = "head") -> None:
    asyncio.run(upgrade_async(service, url, revision))


def run_env() -> None:
    """Body of every service's `migrations/env.py` (online mode, async engine)."""
    url = context.config.get_main_option("sqlalchemy.url")

    def _run(connection: sa.Connection) -> None:
        context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()

    async def _main() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_main())


def create_chassis_tables(bind: sa.Connection) -> None:
    """Called by each service's first revision: the outbox and inbox tables of the chassis."""
    outbox.create(bind, checkfirst=True)
    inbox.create(bind, checkfirst=True)
