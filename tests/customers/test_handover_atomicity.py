"""Handover is one transaction: a process killed in the middle leaves every card, the outbox and access as they were."""

import httpx
import pytest

from tests.harness import auth, eventually

pytestmark = pytest.mark.integration


async def test_a_handover_killed_midway_changes_nothing_then_completes_after_restart(world):
    await world.prepare("customers")
    doomed = world.start("customers", FAULT_POINT="handover.before_commit")
    doomed.wait_ready()
    rep = auth("rep-leaving", "rep", "team-east")
    manager = auth("mgr-east", "manager", "team-east")
    for i in range(5):
        card = {"number": f"H-{i}", "name": f"交接客户{i}", "owner_rep_id": "rep-leaving", "team_id": "team-east"}
        assert httpx.post(f"{doomed.url}/customers", json=card, headers=rep).status_code == 201
    await eventually(lambda: world.scalar("customers", "SELECT count(*) FROM outbox WHERE published_at IS NULL"), until=lambda n: n == 0)

    with pytest.raises(httpx.HTTPError):  # the process dies after moving the cards, before commit
        httpx.post(f"{doomed.url}/reps/rep-leaving/handover", json={"successor_rep_id": "rep-new"}, headers=manager, timeout=10)
    await eventually(lambda: doomed.proc.poll() is not None)
    assert await world.scalar("customers", "SELECT count(*) FROM customers WHERE owner_rep_id = 'rep-leaving' AND revision = 1") == 5
    assert await world.scalar("customers", "SELECT count(*) FROM customer_history WHERE action = 'handover'") == 0
    assert await world.scalar("customers", "SELECT count(*) FROM outbox") == 5
    assert await world.scalar("customers", "SELECT count(*) FROM revoked_reps") == 0

    healthy = world.start("customers")
    healthy.wait_ready()
    assert httpx.get(f"{healthy.url}/customers", headers=rep).status_code == 200  # the leaver still had access
    done = httpx.post(f"{healthy.url}/reps/rep-leaving/handover", json={"successor_rep_id": "rep-new"}, headers=manager)
    assert done.status_code == 200 and done.json()["moved"] == 5
    assert await world.scalar("customers", "SELECT count(*) FROM customers WHERE owner_rep_id = 'rep-new' AND revision = 2") == 5
    assert await world.scalar("customers", "SELECT count(*) FROM outbox WHERE event_type = 'CustomerUpdated'") == 10
    assert httpx.get(f"{healthy.url}/customers", headers=rep).status_code == 403
