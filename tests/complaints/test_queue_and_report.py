"""The priority queue (tier, then time remaining), its filters, the delay report and tier changes."""

import csv
import io
from datetime import datetime, timedelta, timezone

from services.complaints import handlers
from services.complaints.policy import ComplaintsPolicy
from services.complaints.service import Complaints
from services.complaints.sla import SlaClock
from shared import events
from tests.harness import auth

ADMIN = auth()
PLAN = {"actions": [{"content": "退款"}]}


def days_ago(days: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()


async def seed(desk) -> dict[str, str]:
    """Five open complaints over tiers A, B, C (calendar clock; A 3 d, B 4 d, C 5 d; at risk after 75 %)."""
    for tier in "ABC":
        await desk.customer(f"cust-{tier}", tier=tier)
    await desk.customer("cust-west", tier="A", team="team-west")
    ids = {}
    ids["c_overdue"] = (await desk.file("cust-C", received_at=days_ago(6))).json()["complaint_id"]
    ids["a_fresh"] = (await desk.file("cust-A")).json()["complaint_id"]
    ids["a_one_day_left"] = (await desk.file("cust-A", received_at=days_ago(2), handler_id="rep-5")).json()["complaint_id"]
    ids["b_near"] = (await desk.file("cust-B", received_at=days_ago(3.9))).json()["complaint_id"]
    ids["a_waiting"] = (await desk.file("cust-A", received_at=days_ago(2.5))).json()["complaint_id"]
    await desk.move(ids["a_waiting"], "analyzing")
    await desk.move(ids["a_waiting"], "solution_proposed", plan=PLAN, cause={"category": "promise_not_kept"})
    assert (await desk.move(ids["a_waiting"], "communicated")).json()["sla"]["paused"] is True
    ids["west_fresh"] = (await desk.file("cust-west", headers=auth("rep-9", "rep", "team-west"))).json()["complaint_id"]
    return ids


async def queue(desk, headers=ADMIN, **params) -> list[str]:
    response = await desk.client.get("/complaints/queue", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [i["complaint_id"] for i in response.json()["items"]]


async def test_the_queue_puts_the_higher_tier_first_then_the_least_time_remaining(desk):
    ids = await seed(desk)
    east = await queue(desk, team="team-east")
    # A first (the paused one has ~0.5 d frozen, then 1 d, then 3 d), then B, then C even though C is overdue.
    assert east == [ids["a_waiting"], ids["a_one_day_left"], ids["a_fresh"], ids["b_near"], ids["c_overdue"]]
    body = (await desk.client.get("/complaints/queue", headers=ADMIN)).json()
    assert body["total"] == 6 and [i["tier"] for i in body["items"]] == ["A", "A", "A", "A", "B", "C"]
    remaining = [i["time_remaining_seconds"] for i in body["items"]]
    assert remaining[-1] < 0 < remaining[0] < remaining[1]
    assert await queue(desk, limit=2, offset=4) == [ids["b_near"], ids["c_overdue"]]


async def test_the_queue_filters_by_team_handler_status_and_sla_status(desk):
    ids = await seed(desk)
    assert await queue(desk, team="team-west") == [ids["west_fresh"]]
    assert await queue(desk, handler="rep-5") == [ids["a_one_day_left"]]
    assert await queue(desk, status="communicated") == [ids["a_waiting"]]
    assert await queue(desk, sla_status="breached") == [ids["c_overdue"]]
    assert await queue(desk, sla_status="at_risk") == [ids["a_waiting"], ids["b_near"]]
    assert set(await queue(desk, sla_status="on_track")) == {ids["a_fresh"], ids["a_one_day_left"], ids["west_fresh"]}
    bad = await desk.client.get("/complaints/queue", params={"sla_status": "late"}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["field"] == "query.sla_status"


async def test_the_delay_report_groups_late_and_at_risk_complaints_and_measures_attainment(desk):
    ids = await seed(desk)
    # resolve one A in time and the overdue C late
    for cid, cause in [(ids["a_fresh"], "product_defect"), (ids["c_overdue"], "customer_mistake")]:
        await desk.move(cid, "analyzing")
        await desk.move(cid, "solution_proposed", plan=PLAN, cause={"category": cause})
        await desk.move(cid, "communicated")
        await desk.move(cid, "executing")
        assert (await desk.move(cid, "resolved")).status_code == 200
    late = (await desk.file("cust-C", received_at=days_ago(5.5), handler_id="rep-5")).json()["complaint_id"]

    report = (await desk.client.get("/reports/delays", headers=ADMIN)).json()
    assert report["totals"] == {"at_risk": 2, "breached": 1}
    assert report["by_tier"] == [{"tier": "A", "at_risk": 1, "breached": 0}, {"tier": "B", "at_risk": 1, "breached": 0},
                                 {"tier": "C", "at_risk": 0, "breached": 1}]
    assert {r["handler"]: (r["at_risk"], r["breached"]) for r in report["by_handler"]} == {"rep-1": (2, 0), "rep-5": (0, 1)}
    assert report["by_team"] == [{"team": "team-east", "at_risk": 2, "breached": 1}]
    assert {r["cause_category"]: r["at_risk"] + r["breached"] for r in report["by_cause_category"]} == {
        "promise_not_kept": 1, "not_analyzed": 2}
    attainment = {r["tier"]: r for r in report["attainment_by_tier"]}
    assert attainment["A"]["sla_attainment"] == 1.0 and attainment["C"]["sla_attainment"] == 0.0
    assert attainment["C"]["average_resolution_hours"] > 6 * 24 - 1
    assert [c["complaint_id"] for c in report["complaints"]] == [ids["a_waiting"], ids["b_near"], late]

    exported = await desk.client.get("/reports/delays", params={"format": "csv"}, headers=ADMIN)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["complaint_id"], r["sla_status"]) for r in rows] == [
        (ids["a_waiting"], "at_risk"), (ids["b_near"], "at_risk"), (late, "breached")]
    assert float(rows[2]["overdue_seconds"]) > 0
    west = (await desk.client.get("/reports/delays", headers=auth("mgr-w", "manager", "team-west"))).json()
    assert west["totals"] == {"at_risk": 0, "breached": 0}


async def tier_change(desk, ctx, customer_id: str, new_tier: str) -> None:
    change = events.TierChanged(customer_id=customer_id, old_tier="C", new_tier=new_tier, policy="thresholds",
                                reason="purchases", overridden=False, effective_at=datetime.now(timezone.utc),
                                metrics={"purchases_12m": "1200000", "profit_12m": "1", "credit_score": 1, "score": 1})
    envelope = events.new_event(change, source="crm/grading", subject=customer_id)
    async with desk.app.state.runtime.sessions() as session, session.begin():
        await handlers.tier_changed(ctx)(session, [(envelope, change)])


async def test_by_default_an_open_complaint_keeps_its_filing_tier(desk):
    await desk.customer("cust-up", tier="C")
    filed = (await desk.file("cust-up")).json()
    await tier_change(desk, desk.app.state.complaints, "cust-up", "A")
    after = (await desk.client.get(f"/complaints/{filed['complaint_id']}", headers=ADMIN)).json()
    assert after["sla"]["tier"] == "C" and after["sla"]["due_at"] == filed["sla"]["due_at"]
    assert (await desk.file("cust-up")).json()["tier"] == "A"  # new complaints take the new tier


async def test_policy_follow_current_tier_moves_open_deadlines(desk):
    await desk.customer("cust-up", tier="C")
    filed = (await desk.file("cust-up")).json()
    policy = ComplaintsPolicy(clock="calendar", on_tier_change="follow_current_tier")
    await tier_change(desk, Complaints(policy=policy, clock=SlaClock("calendar")), "cust-up", "A")
    after = (await desk.client.get(f"/complaints/{filed['complaint_id']}", headers=ADMIN)).json()
    assert after["tier"] == "C" and after["sla"]["tier"] == "A"
    assert datetime.fromisoformat(after["sla"]["due_at"]) - datetime.fromisoformat(after["received_at"]) == timedelta(days=3)
    assert after["sla"]["filed_due_at"] == filed["sla"]["due_at"] and after["history"][-1]["action"] == "tier_followed"
