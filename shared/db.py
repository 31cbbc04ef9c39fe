"""Database access: one async engine per service, sessions, and the tables every service shares."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel

metadata = SQLModel.metadata

# Events waiting to be published (transactional outbox). Rows are kept after
# publishing (published_at set) for audit; ops may prune old ones.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.String(200), nullable=False, unique=True),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Index("outbox_unpublished", "id", postgresql_where=sa.text("published_at IS NULL")),
)

# Event ids already applied, written in the same transaction as the effect.
inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("consumer", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.String(200), primary_key=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: commits on success, rolls back on error. Use cases never commit themselves."""
    async with sessions() as session, session.begin():
        yield session


def upsert_ignore(table: sa.Table) -> pg.Insert:
    return pg.insert(table).on_conflict_do_nothing()
