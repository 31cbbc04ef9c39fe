"""Complaints service tests: the app in-process (httpx ASGI transport) against a real, migrated PostgreSQL.

The HTTP API only needs the database; the relay is not started, so staged events stay in the outbox
where the tests read them. Broker-level behaviour is proven in test_sla_live.py with the real service.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.complaints.app import build
from services.complaints.settings import ComplaintsSettings
from tests.harness import auth

FAST_POLICY = """
[complaints]
clock = "calendar"
at_risk_after = 0.75
[complaints.resolution]
A = "P3D"
B = "P4D"
C = "P5D"
"""


@dataclass
class Desk:
    """The complaints service in-process, plus helpers to seed its read model and read its outbox."""

    client: httpx.AsyncClient
    world: object
    app: object

    async def customer(self, customer_id: str, *, team: str = "team-east", tier: str | None = "B", owner: str = "rep-1") -> None:
        await self.exec(
            "INSERT INTO known_customers (customer_id, name, owner_rep_id, team_id, revision, tier) "
            "VALUES (:c, :c, :o, :t, 1, :tier)", c=customer_id, o=owner, t=team, tier=tier,
        )

    async def exec(self, sql: str, **params: object) -> None:
        import sqlalchemy as sa

        async with self.world.engine("complaints").begin() as conn:
            await conn.execute(sa.text(sql), params)

    async def events(self, event_type: str | None = None) -> list[dict]:
        rows = await self.world.rows("complaints", "SELECT event_type, payload, key FROM outbox ORDER BY id")
        return [json.loads(bytes(r.payload)) for r in rows if event_type in (None, r.event_type)]

    async def file(self, customer_id: str, headers: dict | None = None, **fields: object) -> httpx.Response:
        body = {"customer_id": customer_id, "complainant": {"name": "王经理", "role": "采购"}, "channel": "phone",
                "content": "第二批货物包装破损，三台设备外壳变形。", "order_id": "SO-1001", "requested_remedy": "换货", **fields}
        return await self.client.post("/complaints", json=body, headers=headers or auth("rep-1", "rep", "team-east"))

    async def move(self, complaint_id: str, to: str, headers: dict | None = None, **fields: object) -> httpx.Response:
        return await self.client.post(f"/complaints/{complaint_id}/transitions", json={"to": to, **fields},
                                      headers=headers or auth("rep-1", "rep", "team-east"))


@pytest.fixture
async def desk(world, tmp_path: Path, monkeypatch) -> AsyncIterator[Desk]:
    policy = tmp_path / "policy.toml"
    policy.write_text(FAST_POLICY, encoding="utf-8")
    monkeypatch.setenv("CRM_POLICY_FILE", str(policy))
    await world.prepare("complaints")
    app = build(ComplaintsSettings(database_url=world.database_url("complaints")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://complaints") as client:
        yield Desk(client, world, app)
    await app.state.runtime.engine.dispose()
