"""The running service (real broker + PostgreSQL): a complaint goes on track -> at risk -> breached
with SLA durations of seconds from a policy file, and its events reach crm.complaints.v1."""

from datetime import datetime, timedelta, timezone

import httpx
import jsonschema
import pytest

from shared import events, topics
from tests.harness import auth, cloud_events, event_bytes, eventually, produce, read_topic

pytestmark = pytest.mark.integration

SECONDS_POLICY = """
[complaints]
clock = "calendar"
at_risk_after = 0.5
[complaints.resolution]
A = "PT12S"
B = "PT20S"
C = "PT30S"
[complaints.first_response]
A = "PT4S"
B = "PT4S"
C = "PT4S"
"""
REP = auth("rep-1", "rep", "team-east")


async def test_a_complaint_moves_from_on_track_to_at_risk_to_breached(world, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(SECONDS_POLICY, encoding="utf-8")
    await world.prepare("complaints")
    service = world.start("complaints", CRM_POLICY_FILE=str(policy))
    service.wait_ready()

    customer = events.CustomerUpdated(customer_id="cust-1", number="CRM-2024-001", name="杭州明远机械有限公司",
                                      owner_rep_id="rep-1", team_id="team-east", strategic_partner=True,
                                      high_potential=False, lifecycle="existing", revision=1)
    graded = events.TierChanged(customer_id="cust-1", old_tier=None, new_tier="A", policy="thresholds", reason="strategic",
                                overridden=False, effective_at=datetime.now(timezone.utc),
                                metrics={"purchases_12m": "0", "profit_12m": "0", "credit_score": 0, "score": 0})
    await produce(world.bootstrap, world.topic(topics.CUSTOMERS), [event_bytes(customer, source="crm/customers")])
    await produce(world.bootstrap, world.topic(topics.GRADING), [event_bytes(graded, source="crm/grading")])
    await eventually(lambda: world.scalar("complaints", "SELECT tier FROM known_customers WHERE customer_id = 'cust-1'"),
                     until=lambda tier: tier == "A")

    async with httpx.AsyncClient(base_url=service.url, headers=REP) as client:
        filed = await client.post("/complaints", json={"customer_id": "cust-1", "complainant": {"name": "王经理"},
                                                       "channel": "phone", "content": "设备故障未按承诺维修"})
        assert filed.status_code == 201, filed.text
        complaint = filed.json()
        cid = complaint["complaint_id"]
        assert complaint["tier"] == "A" and complaint["team_id"] == "team-east"
        assert datetime.fromisoformat(complaint["sla"]["due_at"]) - datetime.fromisoformat(complaint["received_at"]) == timedelta(seconds=12)

        seen = [complaint["sla"]["status"]]

        async def sla_status():
            status = (await client.get(f"/complaints/{cid}")).json()["sla"]["status"]
            if status != seen[-1]:
                seen.append(status)
            return status

        await eventually(sla_status, until=lambda s: s == "breached", timeout=40, interval=0.25)
        assert seen == ["on_track", "at_risk", "breached"]
        assert (await client.get("/complaints/queue", params={"sla_status": "breached"})).json()["items"][0]["complaint_id"] == cid
        report = (await client.get("/reports/delays")).json()
        assert report["by_tier"] == [{"tier": "A", "at_risk": 0, "breached": 1}]

        plan = {"actions": [{"content": "上门维修"}]}
        for step in [{"to": "analyzing"}, {"to": "solution_proposed", "plan": plan}, {"to": "communicated"},
                     {"to": "executing"}, {"to": "resolved", "cause": {"category": "promise_not_kept"}}]:
            assert (await client.post(f"/complaints/{cid}/transitions", json=step)).status_code == 200

    def complaint_events():
        return read_topic(world.bootstrap, world.topic(topics.COMPLAINTS))

    records = await eventually(complaint_events, until=lambda r: len(r) >= 7, timeout=30)
    docs = cloud_events(records)
    assert all(r.key == b"cust-1" for r in records)
    assert [d["type"] for d in docs] == ["ComplaintFiled"] + ["ComplaintStatusChanged"] * 5 + ["ComplaintResolved"]
    for doc in docs:
        jsonschema.validate(doc, events.json_schema(doc["type"]))
    assert docs[0]["data"]["tier"] == "A"
    assert docs[-1]["data"]["within_sla"] is False and docs[-1]["data"]["cause_category"] == "promise_not_kept"


async def test_a_bad_policy_stops_the_start_up_naming_the_key(world, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('[complaints.resolution]\nA = "3 days"\nB = "P4D"\nC = "P5D"\n', encoding="utf-8")
    await world.prepare("complaints")
    service = world.start("complaints", CRM_POLICY_FILE=str(policy))
    with pytest.raises(RuntimeError, match=r"complaints\.resolution\.A"):
        service.wait_ready(timeout=60)
