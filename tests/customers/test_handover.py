"""Handover (domain.md §1): all of a leaver's customers move at once, events follow, the leaver loses access."""

import json

import jsonschema
import pytest

from shared import events, topics
from tests.customers.conftest import unique
from tests.harness import auth, eventually, read_topic

pytestmark = pytest.mark.integration


async def owners(svc, customer_ids):
    rows = await svc.world.rows("customers", "SELECT owner_rep_id, revision FROM customers WHERE customer_id = ANY(:ids)", ids=customer_ids)
    return sorted((r.owner_rep_id, r.revision) for r in rows)


async def test_handover_moves_every_customer_emits_snapshots_and_revokes_the_leaver(svc, rep):
    leaver, team = rep
    successor, manager = unique("rep"), auth(unique("mgr"), "manager", team)
    ids = [(await svc.create(owner=leaver, team=team))["customer_id"] for _ in range(3)]
    bystander = (await svc.create(owner=unique("rep"), team=team))["customer_id"]

    assert (await svc.client.post(f"/reps/{leaver}/handover", json={"successor_rep_id": successor}, headers=auth(leaver, "rep", team))).status_code == 403
    response = await svc.client.post(f"/reps/{leaver}/handover", json={"successor_rep_id": successor, "reason": "离职"}, headers=manager)
    assert response.status_code == 200, response.text
    assert response.json()["moved"] == 3 and sorted(response.json()["customer_ids"]) == sorted(ids)
    assert await owners(svc, ids) == [(successor, 2)] * 3
    assert (await owners(svc, [bystander]))[0][1] == 1

    denied = await svc.client.get("/customers", headers=auth(leaver, "rep", team))
    assert denied.status_code == 403 and denied.json()["code"] == "access_revoked"
    mine = (await svc.client.get("/customers", params={"owner_rep_id": successor}, headers=auth(successor, "rep", team))).json()["items"]
    assert sorted(c["customer_id"] for c in mine) == sorted(ids)
    history = (await svc.client.get(f"/customers/{ids[0]}/history", headers=auth(successor, "rep", team))).json()
    assert history[-1]["action"] == "handover" and history[-1]["changes"]["owner_rep_id"] == {"old": leaver, "new": successor}

    async def moved_snapshots():
        records = await read_topic(svc.world.bootstrap, svc.world.topic(topics.CUSTOMERS))
        docs = [json.loads(r.value) for r in records if r.key.decode() in ids]
        return [d for d in docs if d["data"]["revision"] == 2]

    docs = await eventually(moved_snapshots, until=lambda d: len(d) == 3)
    for doc in docs:
        jsonschema.validate(doc, events.json_schema("CustomerUpdated"))
        assert doc["data"]["owner_rep_id"] == successor and doc["data"]["team_id"] == team
    # a rep who left cannot take over customers
    other = unique("rep")
    await svc.create(owner=other, team=team)
    refused = await svc.client.post(f"/reps/{other}/handover", json={"successor_rep_id": leaver}, headers=manager)
    assert refused.status_code == 409 and refused.json()["field"] == "successor_rep_id"


async def test_a_manager_of_another_team_cannot_hand_over_and_nothing_moves(svc, rep):
    leaver, team = rep
    ids = [(await svc.create(owner=leaver, team=team))["customer_id"] for _ in range(2)]
    outsider = auth(unique("mgr"), "manager", unique("team"))
    response = await svc.client.post(f"/reps/{leaver}/handover", json={"successor_rep_id": unique("rep")}, headers=outsider)
    assert response.status_code == 403
    assert await owners(svc, ids) == [(leaver, 1)] * 2
    assert (await svc.client.get("/customers", headers=auth(leaver, "rep", team))).status_code == 200
