"""Confidentiality (domain.md §1): rep own, manager own team, admin all; 404 where existence must not leak."""

import pytest

from tests.customers.conftest import unique
from tests.harness import auth

pytestmark = pytest.mark.integration


async def test_a_rep_cannot_read_or_change_another_reps_customer(svc, rep):
    owner, team = rep
    card = await svc.create(owner=owner, team=team, name="保密客户")
    cid = card["customer_id"]
    colleague = auth(unique("rep"), "rep", team)
    for method, path, body in [
        ("GET", f"/customers/{cid}", None),
        ("PATCH", f"/customers/{cid}", {"name": "改名"}),
        ("GET", f"/customers/{cid}/history", None),
        ("POST", f"/customers/{cid}/contacts", {"name": "王经理", "decision_role": "purchaser"}),
        ("POST", f"/customers/{cid}/visits", {"channel": "phone", "started_at": "2026-11-20T10:00:00+08:00", "outcome": "undecided"}),
        ("POST", "/orders", {"order_id": unique("SO"), "customer_id": cid, "amount": "10.00", "placed_at": "2026-11-20T10:00:00+08:00"}),
    ]:
        response = await svc.client.request(method, path, json=body, headers=colleague)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"
    listed = (await svc.client.get("/customers", params={"q": card["number"]}, headers=colleague)).json()["items"]
    assert listed == []
    # the same rep id with a token for another team does not open the card either
    assert (await svc.client.get(f"/customers/{cid}", headers=auth(owner, "rep", unique("team")))).status_code == 404
    assert (await svc.client.get(f"/customers/{cid}", headers=auth(owner, "rep", team))).status_code == 200


async def test_managers_see_their_team_admins_everything(svc, rep):
    owner, team = rep
    cid = (await svc.create(owner=owner, team=team))["customer_id"]
    assert (await svc.client.get(f"/customers/{cid}", headers=auth(unique("mgr"), "manager", team))).status_code == 200
    assert (await svc.client.get(f"/customers/{cid}", headers=auth(unique("mgr"), "manager", unique("team")))).status_code == 404
    assert (await svc.client.get(f"/customers/{cid}", headers=auth("root", "admin"))).status_code == 200
    other_team = (await svc.client.get("/customers", params={"team_id": team}, headers=auth(unique("mgr"), "manager", unique("team")))).json()
    assert other_team["items"] == []


async def test_every_request_needs_a_valid_token(svc, rep):
    owner, team = rep
    cid = (await svc.create(owner=owner, team=team))["customer_id"]
    for headers in [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic dXNlcjpwdw=="}]:
        response = await svc.client.get(f"/customers/{cid}", headers=headers)
        assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    assert (await svc.client.get("/customers", headers={})).status_code == 401


async def test_cards_are_created_and_moved_only_within_scope(svc, rep):
    owner, team = rep
    card = {"number": unique("S"), "name": "越权", "owner_rep_id": unique("rep"), "team_id": team}
    forbidden = await svc.client.post("/customers", json=card, headers=auth(owner, "rep", team))
    assert forbidden.status_code == 403 and forbidden.json()["field"] == "owner_rep_id"
    foreign_team = await svc.client.post("/customers", json={**card, "team_id": unique("team")}, headers=auth(unique("mgr"), "manager", team))
    assert foreign_team.status_code == 403 and foreign_team.json()["field"] == "team_id"

    cid = (await svc.create(owner=owner, team=team))["customer_id"]
    give_away = await svc.client.patch(f"/customers/{cid}", json={"owner_rep_id": unique("rep")}, headers=auth(owner, "rep", team))
    assert give_away.status_code == 403 and give_away.json()["field"] == "owner_rep_id"
    move_team = await svc.client.patch(f"/customers/{cid}", json={"team_id": unique("team")}, headers=auth(unique("mgr"), "manager", team))
    assert move_team.status_code == 403 and move_team.json()["field"] == "team_id"
    successor = unique("rep")
    reassigned = await svc.client.patch(f"/customers/{cid}", json={"owner_rep_id": successor}, headers=auth(unique("mgr"), "manager", team))
    assert reassigned.status_code == 200 and reassigned.json()["owner_rep_id"] == successor
    assert (await svc.client.get(f"/customers/{cid}", headers=auth(owner, "rep", team))).status_code == 404
