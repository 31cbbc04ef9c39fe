"""Bad input is a 4xx naming the field, never a 500."""

import pytest

from tests.customers.conftest import unique
from tests.harness import auth

pytestmark = pytest.mark.integration


def card(owner, team, **extra):
    return {"number": unique("B"), "name": "坏输入", "owner_rep_id": owner, "team_id": team, **extra}


async def test_bad_cards_name_the_field(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    existing = await svc.create(owner=owner, team=team)
    cases = [
        (card(owner, team, credit={"credit_limit": "-5.00", "limit_approver": "sales_vp", "limit_approved_on": "2026-11-01"}), "credit.credit_limit"),
        (card(owner, team, credit={"credit_limit": "12.345", "limit_approver": "sales_vp", "limit_approved_on": "2026-11-01"}), "credit.credit_limit"),
        (card(owner, team, credit={"credit_limit": "lots", "limit_approver": "sales_vp", "limit_approved_on": "2026-11-01"}), "credit.credit_limit"),
        (card(owner, team, credit={"credit_limit": "1000.00"}), "credit.limit_approver"),
        (card(owner, team, credit={"credit_limit": "1000.00", "limit_approver": "the_boss", "limit_approved_on": "2026-11-01"}), "credit.limit_approver"),
        (card(owner, team, credit={"payment_attitude": "sometimes"}), "credit.payment_attitude"),
        (card(owner, team, classification={"volume": "huge"}), "classification.volume"),
        (card(owner, team, lifecycle="zombie"), "lifecycle"),
        (card(owner, team, phone="call me maybe"), "phone"),
        (card(owner, team, basic={"founded_on": "2026-02-30"}), "basic.founded_on"),
        (card(owner, team, basic={"registered_capital": 1e30}), "basic.registered_capital"),
        (card(owner, team, basic={"legal_form": "llc"}), "basic.legal_form"),
        (card(owner, team, characteristics={"employees": -1}), "characteristics.employees"),
        (card(owner, team, business={"share_of_wallet_pct": "120"}), "business.share_of_wallet_pct"),
        (card(owner, team, name="名" * 201), "name"),
        (card(owner, team, address="x" * 10_000), "address"),
        (card(owner, team, number="has space"), "number"),
        (card(owner, team, basic={"unknown_field": 1}), "basic.unknown_field"),
    ]
    for body, field in cases:
        response = await svc.client.post("/customers", json=body, headers=headers)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["field"] == field, (field, response.json())
    duplicate = await svc.client.post("/customers", json=card(owner, team, number=existing["number"]), headers=headers)
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "number"


async def test_bad_changes_orders_and_visits_name_the_field(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    cid = (await svc.create(owner=owner, team=team))["customer_id"]
    other = await svc.create(owner=owner, team=team)
    cases = [
        ("PATCH", f"/customers/{cid}", {"credit": {"credit_limit": "5.00"}}, 422, "credit.limit_approver"),
        ("PATCH", f"/customers/{cid}", {"number": other["number"]}, 409, "number"),
        ("PATCH", f"/customers/{cid}", {"lifecycle": "dead"}, 422, "lifecycle"),
        ("PATCH", f"/customers/{cid}", {"trading": {"outlook": "x" * 2001}}, 422, "trading.outlook"),
        ("POST", "/orders", {"order_id": unique("O"), "customer_id": cid, "amount": "-1.00", "placed_at": "2026-11-20T10:00:00+08:00"}, 422, "amount"),
        ("POST", "/orders", {"order_id": unique("O"), "customer_id": cid, "amount": "0", "placed_at": "2026-11-20T10:00:00+08:00"}, 422, "amount"),
        ("POST", "/orders", {"order_id": unique("O"), "customer_id": cid, "amount": "1,000", "placed_at": "2026-11-20T10:00:00+08:00"}, 422, "amount"),
        ("POST", "/orders", {"order_id": unique("O"), "customer_id": cid, "amount": "5.00", "placed_at": "2026-11-20T10:00:00"}, 422, "placed_at"),
        ("POST", "/orders", {"order_id": unique("O"), "customer_id": cid, "amount": "5.00", "placed_at": "yesterday"}, 422, "placed_at"),
        ("POST", "/orders", {"order_id": unique("O"), "customer_id": cid, "amount": "5.00", "placed_at": "2026-11-20T10:00:00Z", "payment_due": "2026-13-01"}, 422, "payment_due"),
        ("POST", "/orders", {"order_id": "x" * 101, "customer_id": cid, "amount": "5.00", "placed_at": "2026-11-20T10:00:00Z"}, 422, "order_id"),
        ("POST", "/orders", {"order_id": unique("O"), "customer_id": "nobody", "amount": "5.00", "placed_at": "2026-11-20T10:00:00Z"}, 404, "customer_id"),
        ("POST", "/payments", {"payment_id": unique("P"), "order_id": "o", "customer_id": cid, "amount": "NaN", "paid_at": "2026-11-20T10:00:00Z"}, 422, "amount"),
        ("POST", f"/customers/{cid}/visits", {"channel": "pigeon", "started_at": "2026-11-20T10:00:00Z", "outcome": "won"}, 422, "channel"),
        ("POST", f"/customers/{cid}/visits", {"channel": "phone", "started_at": "2026-11-20T10:00:00Z", "ended_at": "2026-11-20T09:00:00Z", "outcome": "won"}, 422, "ended_at"),
        ("POST", f"/customers/{cid}/visits", {"channel": "phone", "started_at": "2026-11-20T10:00:00Z", "outcome": "maybe"}, 422, "outcome"),
        ("POST", f"/customers/{cid}/visits", {"channel": "phone", "started_at": "2026-11-20T10:00:00Z", "outcome": "won", "commitments": [{"party": "them", "content": "x", "due_at": "2026-11-21T10:00:00Z"}]}, 422, "commitments.0.party"),
        ("POST", f"/customers/{cid}/contacts", {"name": "王", "decision_role": "boss"}, 422, "decision_role"),
        ("POST", f"/customers/{cid}/contacts", {"name": "王", "decision_role": "user", "phone": "abc"}, 422, "phone"),
        ("POST", f"/customers/{cid}/contacts", {"name": "王", "decision_role": "user", "email": "not-mail"}, 422, "email"),
        ("POST", "/reps/r/handover", {"successor_rep_id": "r"}, 403, "role"),
    ]
    for method, path, body, status, field in cases:
        response = await svc.client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (path, field, response.text)
        assert response.json()["field"] == field, (path, field, response.json())
