"""The card: revisions, history, snapshots on the stream, unverified fields."""

import json

import jsonschema
import pytest

from shared import events, topics
from tests.customers.conftest import unique
from tests.harness import auth, eventually, read_topic

pytestmark = pytest.mark.integration


async def snapshots(svc, customer_id: str) -> list[dict]:
    records = await read_topic(svc.world.bootstrap, svc.world.topic(topics.CUSTOMERS))
    docs = [json.loads(r.value) for r in records if r.key == customer_id.encode()]
    return [d for d in docs if d["type"] == "CustomerUpdated"]


async def test_every_change_is_a_new_revision_with_history_and_a_full_snapshot(svc, rep):
    owner, team = rep
    card = await svc.create(owner=owner, team=team, name="杭州明远机械有限公司", credit={"payment_attitude": "prompt"})
    cid, headers = card["customer_id"], auth(owner, "rep", team)
    assert card["revision"] == 1

    changed = await svc.client.patch(
        f"/customers/{cid}",
        json={"name": "杭州明远机械股份有限公司", "credit": {"credit_limit": "500000.00", "limit_approver": "sales_manager", "limit_approved_on": "2026-11-20"}},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["revision"] == 2
    assert changed.json()["credit"]["payment_attitude"] == "prompt"  # sections merge
    manager = auth(unique("mgr"), "manager", team)
    again = await svc.client.patch(f"/customers/{cid}", json={"lifecycle": "existing"}, headers=manager | {"If-Match": '"2"'})
    assert again.json()["revision"] == 3
    stale = await svc.client.patch(f"/customers/{cid}", json={"lifecycle": "lost"}, headers=headers | {"If-Match": '"2"'})
    assert stale.status_code == 412 and stale.json()["field"] == "if-match"

    history = (await svc.client.get(f"/customers/{cid}/history", headers=headers)).json()
    assert [h["revision"] for h in history] == [1, 2, 3]
    assert history[1]["changed_by"] == owner
    assert history[1]["changes"]["name"] == {"old": "杭州明远机械有限公司", "new": "杭州明远机械股份有限公司"}
    assert history[1]["changes"]["credit.credit_limit"] == {"old": None, "new": "500000.00"}
    assert history[2]["changed_by_role"] == "manager" and history[2]["changes"] == {"lifecycle": {"old": "prospect", "new": "existing"}}

    docs = await eventually(lambda: snapshots(svc, cid), until=lambda d: len(d) == 3)
    for doc in docs:
        jsonschema.validate(doc, events.json_schema("CustomerUpdated"))
    assert [d["data"]["revision"] for d in docs] == [1, 2, 3]
    last = docs[-1]["data"]
    assert last["lifecycle"] == "existing" and last["credit"]["credit_limit"] == "500000.00" and last["credit"]["limit_approver"] == "sales_manager"


async def test_an_unchanged_patch_is_not_a_revision(svc, rep):
    owner, team = rep
    card = await svc.create(owner=owner, team=team, region="华东")
    same = await svc.client.patch(f"/customers/{card['customer_id']}", json={"region": "华东"}, headers=auth(owner, "rep", team))
    assert same.json()["revision"] == 1


async def test_customer_supplied_fields_stay_unverified_until_reviewed(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    response = await svc.client.post(
        "/customers",
        json={"number": unique("F"), "name": "表单客户", "owner_rep_id": owner, "team_id": team, "source": "customer_form",
              "phone": "0571-88886666", "basic": {"tax_id": "91330100MA2XXXX"}},
        headers=headers,
    )
    card = response.json()
    assert {"phone", "basic.tax_id", "name"} <= set(card["unverified"]) and "owner_rep_id" not in card["unverified"]
    cid = card["customer_id"]
    # a rep re-entering a field from their own visit vouches for it
    card = (await svc.client.patch(f"/customers/{cid}", json={"phone": "0571-88886667"}, headers=headers)).json()
    assert "phone" not in card["unverified"] and "basic.tax_id" in card["unverified"]
    verified = await svc.client.post(f"/customers/{cid}/verifications", json={"fields": ["basic.tax_id", "name"]}, headers=headers)
    assert verified.status_code == 200 and verified.json()["unverified"] == []
    again = await svc.client.post(f"/customers/{cid}/verifications", json={"fields": ["name"]}, headers=headers)
    assert again.status_code == 422 and again.json()["field"] == "fields"
    history = (await svc.client.get(f"/customers/{cid}/history", headers=headers)).json()
    assert history[-1]["action"] == "verified" and history[-1]["changes"]["unverified"]["old"] == ["basic.tax_id", "name"]
