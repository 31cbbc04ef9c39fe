"""The complaints API against a real PostgreSQL: filing, the workflow, escalation, access and bad input."""

from datetime import datetime, timedelta

import jsonschema

from shared import events
from tests.harness import auth

REP = auth("rep-1", "rep", "team-east")
PLAN = {"actions": [{"content": "补发三台设备"}, {"content": "赠送维保券"}], "compensation": "500", "compensation_kind": "voucher"}


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_filing_takes_the_tier_from_the_read_model_and_emits_complaint_filed(desk):
    await desk.customer("cust-a", tier="A")
    response = await desk.file("cust-a")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "received" and body["tier"] == "A" and body["team_id"] == "team-east"
    assert body["handler_id"] == "rep-1" and body["sla"]["status"] == "on_track"
    assert ts(body["sla"]["due_at"]) - ts(body["received_at"]) == timedelta(days=3)
    assert body["complainant"] == {"name": "王经理", "role": "采购"} and body["allowed_next"] == ["analyzing", "escalated"]
    [filed] = await desk.events("ComplaintFiled")
    jsonschema.validate(filed, events.json_schema("ComplaintFiled"))
    assert filed["data"]["tier"] == "A" and filed["data"]["complaint_id"] == body["complaint_id"]
    assert ts(filed["data"]["due_at"]) == ts(body["sla"]["due_at"]) and filed["data"]["order_id"] == "SO-1001"


async def test_a_customer_never_graded_gets_the_default_tier(desk):
    await desk.customer("cust-new", tier=None)
    body = (await desk.file("cust-new")).json()
    assert body["tier"] == "C" and ts(body["sla"]["due_at"]) - ts(body["received_at"]) == timedelta(days=5)


async def test_bad_input_is_a_4xx_naming_the_problem(desk):
    await desk.customer("cust-b")
    unknown = await desk.file("cust-nobody")
    assert unknown.status_code == 422 and unknown.json()["field"] == "customer_id"
    missing = await desk.client.post("/complaints", json={"customer_id": "cust-b", "channel": "phone",
                                                          "complainant": {"name": "x"}}, headers=REP)
    assert missing.status_code == 422 and missing.json()["field"] == "content"
    assert (await desk.file("cust-b", channel="pigeon")).json()["field"] == "channel"
    assert (await desk.file("cust-b", received_at="2026-11-23 10:00")).json()["field"] == "received_at"
    future = await desk.file("cust-b", received_at="2099-01-01T00:00:00+08:00")
    assert future.status_code == 422 and future.json()["field"] == "received_at"
    assert (await desk.client.post("/complaints", json={}, headers={})).status_code == 401
    cid = (await desk.file("cust-b")).json()["complaint_id"]
    assert (await desk.move(cid, "flying")).json()["field"] == "to"
    bad_plan = await desk.move(cid, "analyzing", plan={"actions": []})
    assert bad_plan.status_code == 422 and bad_plan.json()["field"] == "plan.actions"
    assert (await desk.client.get("/complaints/nope", headers=REP)).status_code == 404


async def test_the_six_steps_are_audited_and_emit_status_changes_and_the_resolution(desk):
    await desk.customer("cust-b")
    cid = (await desk.file("cust-b")).json()["complaint_id"]

    out_of_order = await desk.move(cid, "resolved")
    assert out_of_order.status_code == 409
    assert out_of_order.json()["allowed"] == ["analyzing", "escalated"] and "analyzing" in out_of_order.json()["message"]

    assert (await desk.move(cid, "analyzing", note="查看物流记录")).json()["sla"]["first_response"]["status"] == "met"
    no_plan = await desk.move(cid, "solution_proposed")
    assert no_plan.status_code == 422 and no_plan.json()["field"] == "plan"
    proposed = (await desk.move(cid, "solution_proposed", plan=PLAN,
                                cause={"category": "logistics_supply", "analysis": "承运商野蛮装卸"})).json()
    assert [a["no"] for a in proposed["plan"]["actions"]] == [1, 2] and proposed["plan"]["compensation"] == "500.00"
    communicated = (await desk.move(cid, "communicated")).json()
    assert communicated["sla"]["paused"] is True  # waiting on the customer
    assert (await desk.move(cid, "executing", feedback={"accepted": True})).json()["sla"]["paused"] is False
    resolved = (await desk.move(cid, "resolved")).json()
    assert resolved["within_sla"] is True and resolved["sla"]["status"] == "met"
    closed = (await desk.move(cid, "closed", feedback={"accepted": True, "satisfaction": 5},
                              improvement_measures="更换承运商，加强包装")).json()
    assert closed["status"] == "closed" and closed["allowed_next"] == []
    assert (await desk.move(cid, "reopened")).status_code == 409

    steps = [(h["from_status"], h["to_status"]) for h in closed["history"]]
    assert steps == [(None, "received"), ("received", "analyzing"), ("analyzing", "solution_proposed"),
                     ("solution_proposed", "communicated"), ("communicated", "executing"), ("executing", "resolved"),
                     ("resolved", "closed")]
    assert all(h["actor_id"] == "rep-1" for h in closed["history"])
    changes = await desk.events("ComplaintStatusChanged")
    for change in changes:
        jsonschema.validate(change, events.json_schema("ComplaintStatusChanged"))
    assert [(c["data"]["from"], c["data"]["to"]) for c in changes] == steps[1:]
    [resolution] = await desk.events("ComplaintResolved")
    jsonschema.validate(resolution, events.json_schema("ComplaintResolved"))
    assert resolution["data"]["within_sla"] is True and resolution["data"]["cause_category"] == "logistics_supply"


async def test_a_resolution_without_a_cause_category_is_refused(desk):
    await desk.customer("cust-b")
    cid = (await desk.file("cust-b")).json()["complaint_id"]
    for step, extra in [("analyzing", {}), ("solution_proposed", {"plan": PLAN}), ("communicated", {}), ("executing", {})]:
        assert (await desk.move(cid, step, **extra)).status_code == 200
    refused = await desk.move(cid, "resolved")
    assert refused.status_code == 422 and refused.json()["field"] == "cause.category"
    assert (await desk.move(cid, "resolved", cause={"category": "unknown"})).json()["field"] == "cause.category"
    assert (await desk.move(cid, "resolved", cause={"category": "product_defect"})).status_code == 200


async def test_a_late_resolution_is_outside_the_sla_and_a_reopening_restarts_the_clock(desk):
    await desk.customer("cust-a", tier="A")
    received = (datetime.now().astimezone() - timedelta(days=4)).isoformat()
    cid = (await desk.file("cust-a", received_at=received)).json()["complaint_id"]
    assert (await desk.client.get(f"/complaints/{cid}", headers=REP)).json()["sla"]["status"] == "breached"
    for step, extra in [("analyzing", {}), ("solution_proposed", {"plan": PLAN}), ("communicated", {}), ("executing", {})]:
        await desk.move(cid, step, **extra)
    resolved = (await desk.move(cid, "resolved", cause={"category": "attitude"})).json()
    assert resolved["within_sla"] is False and resolved["sla"]["status"] == "breached"
    reopened = (await desk.move(cid, "reopened", feedback={"accepted": False, "satisfaction": 1})).json()
    assert reopened["resolved_at"] is None and reopened["sla"]["status"] == "breached"
    assert reopened["allowed_next"] == ["analyzing", "escalated"]
    [resolution] = await desk.events("ComplaintResolved")
    assert resolution["data"]["within_sla"] is False


async def test_an_escalated_complaint_stays_with_its_handler_until_the_department_accepts(desk):
    await desk.customer("cust-b")
    cid = (await desk.file("cust-b")).json()["complaint_id"]
    assert (await desk.move(cid, "escalated")).json()["field"] == "department"
    escalated = (await desk.move(cid, "escalated", department="quality", note="超出权限")).json()
    assert escalated["handler_id"] == "rep-1" and escalated["escalation"]["accepted_by"] is None
    waiting = await desk.move(cid, "analyzing")
    assert waiting.status_code == 409 and waiting.json()["code"] == "escalation_not_accepted"
    quality = auth("qa-7", "rep", "quality")
    assert (await desk.client.get(f"/complaints/{cid}", headers=quality)).status_code == 200
    wrong = await desk.client.post(f"/complaints/{cid}/escalation/accept", headers=auth("x-1", "rep", "finance"))
    assert wrong.status_code == 403
    accepted = await desk.client.post(f"/complaints/{cid}/escalation/accept", headers=quality)
    assert accepted.status_code == 200 and accepted.json()["handler_id"] == "qa-7"
    assert accepted.json()["history"][-1]["action"] == "escalation_accepted"
    again = await desk.client.post(f"/complaints/{cid}/escalation/accept", headers=quality)
    assert again.status_code == 409
    assert (await desk.move(cid, "analyzing", headers=quality)).status_code == 200


async def test_handlers_see_their_own_and_their_teams_managers_their_team_admin_all(desk):
    await desk.customer("cust-east", team="team-east")
    await desk.customer("cust-west", team="team-west")
    east = (await desk.file("cust-east")).json()["complaint_id"]
    # filed by an east rep for a west customer: the complaint is the west team's, and the handler's own
    own_west = (await desk.file("cust-west")).json()["complaint_id"]
    west = (await desk.file("cust-west", headers=auth("rep-9", "rep", "team-west"))).json()["complaint_id"]

    def can(headers, cid):
        return desk.client.get(f"/complaints/{cid}", headers=headers)

    colleague = auth("rep-2", "rep", "team-east")
    assert (await can(colleague, east)).status_code == 200
    assert (await can(colleague, west)).status_code == 403
    assert (await can(REP, own_west)).status_code == 200
    assert (await can(auth("mgr-e", "manager", "team-east"), west)).status_code == 403
    assert (await can(auth("mgr-w", "manager", "team-west"), west)).status_code == 200
    assert (await can(auth("boss", "admin"), west)).status_code == 200
    assert (await desk.move(west, "analyzing", headers=colleague)).status_code == 403
    queue = (await desk.client.get("/complaints/queue", headers=auth("mgr-w", "manager", "team-west"))).json()
    assert {i["complaint_id"] for i in queue["items"]} == {own_west, west}
    queue = (await desk.client.get("/complaints/queue", headers=REP)).json()
    assert {i["complaint_id"] for i in queue["items"]} == {east, own_west}
