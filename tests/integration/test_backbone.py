"""The backbone end to end: real broker, real PostgreSQL, services as separate processes."""

import json

import httpx
import jsonschema
import pytest

from shared import events, topics
from tests.harness import auth, eventually, read_topic

pytestmark = pytest.mark.integration

CARD = {"number": "CRM-2024-001", "name": "杭州明远机械有限公司", "owner_rep_id": "rep-1", "team_id": "team-east"}
REP = auth("rep-1", "rep", "team-east")  # the card's owner


async def test_a_new_customer_reaches_every_service_as_cloudevents(world):
    await world.prepare()
    customers = world.start("customers")
    readers = [world.start(name) for name in ("grading", "complaints", "notifier")]
    for proc in [customers, *readers]:
        proc.wait_ready()

    response = httpx.post(f"{customers.url}/customers", json=CARD, headers=REP)
    assert response.status_code == 201, response.text
    customer = response.json()
    assert httpx.get(f"{customers.url}/customers/{customer['customer_id']}", headers=REP).json()["name"] == CARD["name"]

    records = await eventually(lambda: read_topic(world.bootstrap, world.topic(topics.CUSTOMERS)))
    assert len(records) == 1
    record = records[0]
    assert record.key == customer["customer_id"].encode()
    assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
    doc = json.loads(record.value)
    jsonschema.validate(doc, events.json_schema("CustomerUpdated"))
    assert doc["type"] == "CustomerUpdated" and doc["subject"] == customer["customer_id"]
    assert doc["data"]["revision"] == 1 and doc["data"]["name"] == CARD["name"]

    for service in ("complaints", "notifier"):
        await eventually(
            lambda s=service: world.scalar(s, "SELECT name FROM known_customers WHERE customer_id = :c", c=customer["customer_id"])
        )
    await eventually(
        lambda: world.scalar("grading", "SELECT customer_revision FROM grading_customer_metrics WHERE customer_id = :c", c=customer["customer_id"])
    )


async def test_every_service_serves_health_metrics_and_documents(world):
    await world.prepare()
    procs = {name: world.start(name) for name in ("customers", "grading", "complaints", "notifier")}
    for name, proc in procs.items():
        proc.wait_ready()
        assert httpx.get(f"{proc.url}/health").json()["status"] == "ok"
        ready = httpx.get(f"{proc.url}/ready").json()
        assert ready == {"status": "ready", "database": "ok", "broker": "ok"}
        assert "crm_http_requests_total" in httpx.get(f"{proc.url}/metrics").text
        assert httpx.get(f"{proc.url}/openapi.json").json()["info"]["title"] == f"CRM {name}"
        asyncapi = httpx.get(f"{proc.url}/asyncapi.json").json()
        assert asyncapi["asyncapi"].startswith("3.")
        assert asyncapi["channels"], name


async def test_bad_input_is_a_4xx_naming_the_field(world):
    await world.prepare("customers")
    customers = world.start("customers")
    customers.wait_ready()
    url = f"{customers.url}/customers"
    assert httpx.post(url, json=CARD, headers=REP).status_code == 201
    duplicate = httpx.post(url, json=CARD, headers=REP)
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "number"
    for bad, field in [
        ({**CARD, "number": "N-2", "lifecycle": "zombie"}, "lifecycle"),
        ({**CARD, "number": "N-3", "name": "x" * 201}, "name"),
        ({**CARD, "number": "N-4", "phone": "call me"}, "phone"),
        ({k: v for k, v in CARD.items() if k != "team_id"} | {"number": "N-5"}, "team_id"),
        ({**CARD, "number": "N-6", "surprise": 1}, "surprise"),
    ]:
        response = httpx.post(url, json=bad, headers=REP)
        assert response.status_code == 422, response.text
        assert response.json()["field"] == field
        assert response.json()["code"] == "invalid_input"
    missing = httpx.get(f"{customers.url}/customers/nope", headers=REP)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    not_json = httpx.post(url, content=b"{", headers={"content-type": "application/json", **REP})
    assert not_json.status_code == 422
