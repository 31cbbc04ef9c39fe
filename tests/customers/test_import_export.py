"""Bulk import / export: per-row errors naming the field, all-or-nothing by default, CSV with BOM for Excel."""

import csv
import io
import json

import pytest

from services.customers.bulk import BOM, CSV_COLUMNS
from tests.customers.conftest import unique
from tests.harness import auth

pytestmark = pytest.mark.integration


def csv_file(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["number", "name", "owner_rep_id", "team_id", "phone", "credit.credit_limit", "credit.limit_approver", "credit.limit_approved_on", "classification.volume"])
    writer.writeheader()
    writer.writerows(rows)
    return (BOM + buffer.getvalue()).encode("utf-8")


async def count(svc, team):
    return await svc.world.scalar("customers", "SELECT count(*) FROM customers WHERE team_id = :t", t=team)


async def test_a_csv_with_bad_rows_is_rejected_whole_and_errors_name_row_and_field(svc, rep):
    owner, team = rep
    headers = auth(unique("mgr"), "manager", team)
    good = {"number": unique("I"), "name": "宁波海联", "owner_rep_id": owner, "team_id": team, "phone": "0574-1234567"}
    rows = [
        good,
        {**good, "number": unique("I"), "phone": "bad phone"},
        {**good, "number": unique("I"), "credit.credit_limit": "50000.00"},
        {**good},  # duplicate number in the file
        {**good, "number": unique("I"), "team_id": unique("team")},
        {**good, "number": unique("I"), "classification.volume": "big"},
    ]
    response = await svc.client.post("/customers/import", content=csv_file(rows), params={"format": "csv"}, headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_rows" and body["error_count"] == 6
    assert [(e["row"], e["field"]) for e in body["errors"]] == [
        (2, "phone"), (3, "credit.limit_approver"), (3, "credit.limit_approved_on"), (4, "number"), (5, "owner_rep_id"), (6, "classification.volume"),
    ]
    assert await count(svc, team) == 0

    partial = await svc.client.post("/customers/import", content=csv_file(rows), params={"format": "csv", "on_error": "skip_rows"}, headers=headers)
    assert partial.status_code == 200 and partial.json()["imported"] == 1 and partial.json()["error_count"] == 6
    assert await count(svc, team) == 1
    again = await svc.client.post("/customers/import", content=csv_file([good]), params={"format": "csv"}, headers=headers)
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "number"


async def test_json_import_then_csv_export_round_trips_chinese_text(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    cards = [
        {"number": unique("J"), "name": f"北京客户{i}", "owner_rep_id": owner, "team_id": team, "region": "华北",
         "credit": {"credit_limit": "100000.00", "limit_approver": "sales_vp", "limit_approved_on": "2026-11-01"}, "strategic_partner": i == 0}
        for i in range(3)
    ]
    response = await svc.client.post("/customers/import", content=json.dumps(cards, ensure_ascii=False).encode(), headers=headers | {"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["imported"] == 3, response.text
    assert await svc.world.scalar("customers", "SELECT count(*) FROM customer_history WHERE action = 'imported' AND changed_by = :r", r=owner) == 3
    assert await svc.world.scalar("customers", "SELECT count(*) FROM outbox WHERE key IN (SELECT customer_id FROM customers WHERE team_id = :t)", t=team) == 3

    exported = await svc.client.get("/customers/export", params={"format": "csv"}, headers=headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    raw = exported.content
    assert raw.startswith(BOM.encode("utf-8"))
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0]) == CSV_COLUMNS
    assert sorted(r["name"] for r in rows) == ["北京客户0", "北京客户1", "北京客户2"]
    assert {r["credit.credit_limit"] for r in rows} == {"100000.00"}
    # the exported file imports elsewhere unchanged (after renumbering)
    for r in rows:
        r["number"] = unique("K")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    reimport = await svc.client.post("/customers/import", content=(BOM + buffer.getvalue()).encode(), params={"format": "csv"}, headers=headers)
    assert reimport.status_code == 200 and reimport.json()["imported"] == 3, reimport.text

    as_json = (await svc.client.get("/customers/export", params={"format": "json"}, headers=headers)).json()
    assert len(as_json) == 6 and all(c["owner_rep_id"] == owner for c in as_json)
    outsider = (await svc.client.get("/customers/export", params={"format": "json"}, headers=auth(unique("rep"), "rep", team))).json()
    assert outsider == []


async def test_unreadable_files_name_the_problem(svc, rep):
    owner, team = rep
    headers = auth(owner, "rep", team)
    cases = [
        (b"number,name,colour\nN1,x,red\n", {"format": "csv"}, "colour"),
        (b"\xff\xfe garbage", {"format": "csv"}, "file"),
        (b"{not json", {"format": "json"}, "file"),
        (b'{"a": 1}', {"format": "json"}, "file"),
        (b"number,name\n", {}, "format"),
    ]
    for content, params, field in cases:
        response = await svc.client.post("/customers/import", content=content, params=params, headers=headers | {"content-type": "application/octet-stream"})
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
