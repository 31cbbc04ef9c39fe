"""Follow-up records (template 1) with commitments, and contacts whose history is never overwritten."""

import json
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest

from shared import events, topics
from tests.customers.conftest import unique
from tests.harness import auth, eventually, read_topic

pytestmark = pytest.mark.integration


def visit(**extra) -> dict:
    start = datetime.now(timezone.utc) - timedelta(hours=2)
    return {
        "channel": "on_site", "started_at": start.isoformat(), "ended_at": (start + timedelta(hours=1)).isoformat(),
        "contact_name": "李总", "contact_title": "采购总监",
        "needs": {"description": "年底前更换两条产线", "budget": "800000.00", "deadline": "2026-12-31"},
        "objections": ["价格比竞品高 8%"],
        "commitments": [
            {"party": "customer", "content": "下周提供图纸", "due_at": (start + timedelta(days=7)).isoformat()},
            {"party": "us", "content": "三天内报价", "due_at": (start + timedelta(days=3)).isoformat()},
        ],
        "next_step": {"owner_rep_id": "rep-x", "due_at": (start + timedelta(days=3)).isoformat(), "content": "送报价"},
        "help_needed": [{"department": "technical", "request": "产线方案评审"}],
        "outcome": "interested",
        **extra,
    }


async def test_visits_detect_the_first_emit_visit_logged_and_track_commitments(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    cid = (await svc.create(owner=owner, team=team))["customer_id"]
    first = await svc.client.post(f"/customers/{cid}/visits", json=visit(visit_id=unique("V")), headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["first_visit"] is True and first.json()["recorded_late"] is False
    repeat = await svc.client.post(f"/customers/{cid}/visits", json=visit(visit_id=first.json()["visit_id"]), headers=headers)
    assert repeat.status_code == 200 and repeat.json()["first_visit"] is True
    late_start = (datetime.now(timezone.utc) - timedelta(days=3)).isoformat()
    second = await svc.client.post(f"/customers/{cid}/visits", json=visit(channel="phone", started_at=late_start, ended_at=None, outcome="not_now"), headers=headers)
    assert second.json()["first_visit"] is False and second.json()["recorded_late"] is True

    async def logged():
        records = await read_topic(svc.world.bootstrap, svc.world.topic(topics.CUSTOMERS))
        return [d for d in (json.loads(r.value) for r in records if r.key == cid.encode()) if d["type"] == "VisitLogged"]

    docs = await eventually(logged, until=lambda d: len(d) == 2)
    for doc in docs:
        jsonschema.validate(doc, events.json_schema("VisitLogged"))
    assert [d["data"]["first_visit"] for d in docs] == [True, False]
    assert docs[0]["data"]["rep_id"] == owner and len(docs[0]["data"]["commitments"]) == 2
    assert docs[0]["data"]["next_step"]["content"] == "送报价"

    open_ones = (await svc.client.get(f"/customers/{cid}/commitments", params={"status_filter": "open"}, headers=headers)).json()
    assert len(open_ones) == 4
    ours = next(c for c in open_ones if c["party"] == "us")
    kept = await svc.client.post(f"/customers/{cid}/commitments/{ours['commitment_id']}/resolution", json={"status": "kept"}, headers=headers)
    assert kept.status_code == 200 and kept.json()["status"] == "kept" and kept.json()["resolved_by"] == owner
    twice = await svc.client.post(f"/customers/{cid}/commitments/{ours['commitment_id']}/resolution", json={"status": "broken"}, headers=headers)
    assert twice.status_code == 409
    theirs = next(c for c in open_ones if c["party"] == "customer")
    broken = await svc.client.post(f"/customers/{cid}/commitments/{theirs['commitment_id']}/resolution", json={"status": "broken", "note": "图纸未到"}, headers=headers)
    assert broken.json()["status"] == "broken"
    assert len((await svc.client.get(f"/customers/{cid}/commitments", params={"status_filter": "open"}, headers=headers)).json()) == 2


async def test_a_replaced_contact_stays_as_history(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    cid = (await svc.create(owner=owner, team=team))["customer_id"]
    old = (await svc.client.post(f"/customers/{cid}/contacts", json={"name": "张经理", "title": "采购经理", "phone": "13800138000", "decision_role": "purchaser", "birthday": "1980-05-01"}, headers=headers)).json()
    boss = await svc.client.post(f"/customers/{cid}/contacts", json={"name": "李总", "decision_role": "decision_maker"}, headers=headers)
    assert boss.status_code == 201
    new = await svc.client.post(f"/customers/{cid}/contacts", json={"name": "赵经理", "decision_role": "purchaser", "replaces_contact_id": old["contact_id"]}, headers=headers)
    assert new.status_code == 201
    active = (await svc.client.get(f"/customers/{cid}/contacts", headers=headers)).json()
    assert sorted(c["name"] for c in active) == ["李总", "赵经理"]
    everyone = (await svc.client.get(f"/customers/{cid}/contacts", params={"include_former": "true"}, headers=headers)).json()
    former = next(c for c in everyone if c["contact_id"] == old["contact_id"])
    assert former["active"] is False and former["ended_reason"] == "replaced" and former["phone"] == "13800138000"
    again = await svc.client.post(f"/customers/{cid}/contacts", json={"name": "钱", "decision_role": "user", "replaces_contact_id": old["contact_id"]}, headers=headers)
    assert again.status_code == 409
    left = await svc.client.post(f"/customers/{cid}/contacts/{boss.json()['contact_id']}/departure", json={"reason": "退休"}, headers=headers)
    assert left.json()["active"] is False and left.json()["ended_reason"] == "退休"
