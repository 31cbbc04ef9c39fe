"""The grading service as a process on the real broker and PostgreSQL: events in, TierChanged out, HTTP API."""

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import jsonschema
import pytest

from shared import events, topics
from tests.grading.conftest import card, order
from tests.harness import ADMIN, auth, event_bytes, eventually, produce, read_topic

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)
EAST_MANAGER = auth("mgr-east", "manager", "team-east")
WEST_MANAGER = auth("mgr-west", "manager", "team-west")


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def fast_policy(tmp_path, extra: str = "") -> str:
    path = tmp_path / "policy.toml"
    path.write_text(f'[grading]\nexpiry_check_every = "PT0.5S"\nrecompute_every = "PT1H"\n{extra}', encoding="utf-8")
    return str(path)


async def tier_changes(world, customer: str | None = None) -> list[dict]:
    docs = [json.loads(r.value) for r in await read_topic(world.bootstrap, world.topic(topics.GRADING), idle_ms=300)]
    return [d for d in docs if customer is None or d["subject"] == customer]


async def test_orders_become_tiers_with_history_overrides_expire_and_access_is_scoped(world, tmp_path):
    await world.prepare("grading")
    grading = world.start("grading", CRM_POLICY_FILE=fast_policy(tmp_path))
    grading.wait_ready()
    await produce(world.bootstrap, world.topic(topics.CUSTOMERS), [event_bytes(card("c-1", team="team-east", rep="rep-1"))])
    await produce(
        world.bootstrap,
        world.topic(topics.ORDERS),
        [event_bytes(order("c-1", "SO-1", "200000.00", ago(30), cost="150000.00")), event_bytes(order("c-1", "SO-2", "150000.00", ago(20)))],
    )
    found = await eventually(lambda: tier_changes(world, "c-1"), until=lambda d: d and d[-1]["data"]["new_tier"] == "B")
    for doc in found:
        jsonschema.validate(doc, events.json_schema("TierChanged"))
    assert found[-1]["data"]["metrics"]["purchases_12m"] == "350000.00"

    url = f"{grading.url}/tiers/c-1"
    card_ = httpx.get(url, headers=auth("rep-1", "rep", "team-east")).json()
    assert card_["tier"] == "B" and card_["policy"] == "thresholds" and card_["metrics"]["purchases_12m"] == "350000.00"
    assert [h["new_tier"] for h in card_["history"]][-1] == "B"
    assert httpx.get(url, headers=auth("rep-2", "rep", "team-east")).status_code == 403
    assert httpx.get(url, headers=WEST_MANAGER).status_code == 403
    assert httpx.get(url).status_code == 401
    missing = httpx.get(f"{grading.url}/tiers/nobody", headers=ADMIN)
    assert missing.status_code == 404 and missing.json()["field"] == "customer_id"

    # overrides: bad input names the field; only the team's manager or an admin
    put = f"{grading.url}/overrides/c-1"
    soon = (datetime.now(timezone.utc) + timedelta(seconds=3)).isoformat()
    body = {"tier": "A", "reason": "strategic deal in negotiation", "expires_at": soon}
    unknown = httpx.put(f"{grading.url}/overrides/ghost", json=body, headers=ADMIN)
    assert unknown.status_code == 404 and unknown.json()["field"] == "customer_id"
    for bad, field in [({**body, "expires_at": ago(1)}, "expires_at"), ({**body, "tier": "S"}, "tier"), ({**body, "reason": ""}, "reason")]:
        response = httpx.put(put, json=bad, headers=ADMIN)
        assert response.status_code == 422 and response.json()["field"] == field, response.text
    assert httpx.put(put, json=body, headers=WEST_MANAGER).status_code == 403
    assert httpx.put(put, json=body, headers=auth("rep-1", "rep", "team-east")).status_code == 403
    response = httpx.put(put, json=body, headers=EAST_MANAGER)
    assert response.status_code == 200 and response.json()["tier_changed"] is True
    # the override shows, then expires by itself and the computed tier returns
    changes = await eventually(
        lambda: tier_changes(world, "c-1"),
        until=lambda d: [(x["data"]["new_tier"], x["data"]["overridden"]) for x in d][-2:] == [("A", True), ("B", False)],
        timeout=30,
    )
    assert changes[-2]["data"]["reason"].endswith("strategic deal in negotiation")
    audit = httpx.get(url, headers=ADMIN).json()["override_audit"]
    assert [(a["action"], a["actor"]) for a in audit] == [("set", "mgr-east"), ("expired", "system")]


async def test_recompute_report_migration_and_what_if(world, tmp_path):
    await world.prepare("grading")
    grading = world.start("grading", CRM_POLICY_FILE=fast_policy(tmp_path))
    grading.wait_ready()
    amounts = {"big": "1500000.00", "mid": "400000.00", "s1": "1000.00", "s2": "2000.00"}
    await produce(world.bootstrap, world.topic(topics.CUSTOMERS), [event_bytes(card(c, team="team-east")) for c in amounts])
    await produce(world.bootstrap, world.topic(topics.ORDERS), [event_bytes(order(c, f"SO-{c}", a, ago(5))) for c, a in amounts.items()])
    await eventually(lambda: world.scalar("grading", "SELECT count(*) FROM grading_customer_metrics WHERE tier IS NOT NULL AND order_count = 1"), until=lambda n: n == 4)

    assert httpx.post(f"{grading.url}/recompute", headers=EAST_MANAGER).status_code == 403
    done = httpx.post(f"{grading.url}/recompute", headers=ADMIN, timeout=30)
    assert done.status_code == 200 and done.json()["tier_changes"] == 0  # nothing moved: no event
    report = httpx.get(f"{grading.url}/report", headers=EAST_MANAGER).json()
    by_tier = {d["tier"]: d for d in report["distribution"]}
    assert {t: d["customers"] for t, d in by_tier.items()} == {"A": 1, "B": 1, "C": 2}
    assert by_tier["A"]["revenue_share"] == pytest.approx(1500000 / 1903000, abs=1e-4)
    assert [c["customer_id"] for c in report["customers"]] == ["big", "mid", "s2", "s1"]
    only_c = httpx.get(f"{grading.url}/report", params={"tier": "C"}, headers=ADMIN).json()
    assert {c["customer_id"] for c in only_c["customers"]} == {"s1", "s2"}
    assert httpx.get(f"{grading.url}/report", headers=WEST_MANAGER).json()["total"] == 0
    assert httpx.get(f"{grading.url}/report", params={"tier": "Z"}, headers=ADMIN).json()["field"] == "query.tier"

    today = datetime.now(timezone.utc).date()
    matrix = httpx.get(
        f"{grading.url}/report/migration", params={"from": (today - timedelta(days=3)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}, headers=ADMIN
    ).json()["matrix"]
    assert matrix == {"-": {"A": 1, "B": 1, "C": 2}}

    candidate = {"policy": {"kind": "ranks", "rank_by": "purchases_12m", "a_share": 0.25, "b_share": 0.5}}
    what_if = httpx.post(f"{grading.url}/report/what-if", json=candidate, headers=ADMIN).json()
    assert what_if["would_move"] == 1 and what_if["moves"][0]["customer_id"] == "s2"
    assert (what_if["moves"][0]["current_tier"], what_if["moves"][0]["candidate_tier"]) == ("C", "B")
    assert what_if["matrix"] == {"A": {"A": 1}, "B": {"B": 1}, "C": {"B": 1, "C": 1}}
    assert httpx.get(f"{grading.url}/tiers/s2", headers=ADMIN).json()["tier"] == "C"  # nothing applied
    bad = httpx.post(f"{grading.url}/report/what-if", json={"policy": {"kind": "ranks", "a_share": 2}}, headers=ADMIN)
    assert bad.status_code == 422 and "a_share" in bad.json()["field"]


async def test_bad_amounts_go_to_the_dlq_and_a_malformed_policy_stops_start_up(world, tmp_path):
    await world.prepare("grading")
    broken = tmp_path / "broken.toml"
    broken.write_text('[grading.policies.thresholds]\nkind = "thresholds"\na_min = "a lot"\n', encoding="utf-8")
    doomed = world.start("grading", CRM_POLICY_FILE=str(broken))
    with pytest.raises(RuntimeError) as stopped:
        doomed.wait_ready()
    assert "grading.policies.thresholds.thresholds.a_min" in str(stopped.value)

    grading = world.start("grading")
    grading.wait_ready()
    topic = world.topic(topics.ORDERS)
    negative = events.new_event(order("c-9", "SO-NEG", "1.00", ago(1)), source="erp")
    negative.data["amount"] = "-5.00"
    words = events.new_event(order("c-9", "SO-TXT", "1.00", ago(1)), source="erp")
    words.data["amount"] = "twelve"
    await produce(world.bootstrap, topic, [(b"c-9", events.encode(negative)), (b"c-9", events.encode(words)), event_bytes(order("c-9", "SO-OK", "7.00", ago(1)))])
    dead = await eventually(lambda: read_topic(world.bootstrap, topics.dlq(topic)), until=lambda r: len(r) >= 2)
    assert sorted(dict(r.headers)["x-dlq-reason"] for r in dead) == [b"schema_violation"] * 2
    assert all(b"amount" in dict(r.headers)["x-dlq-error"] for r in dead)
    await eventually(lambda: world.scalar("grading", "SELECT order_count FROM grading_customer_metrics WHERE customer_id = 'c-9'"))
    assert await world.scalar("grading", "SELECT purchases_total FROM grading_customer_metrics WHERE customer_id = 'c-9'") == Decimal("7.00")
