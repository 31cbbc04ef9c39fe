"""The event contract: envelope, typed payloads, committed JSON Schemas."""

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from shared import events
from shared.events import InvalidEvent

SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "schemas"


def order(**overrides):
    data = {
        "order_id": "SO-1",
        "customer_id": "c-1",
        "amount": "12500.00",
        "placed_at": "2026-11-22T10:00:00+08:00",
    }
    data.update(overrides)
    return data


def envelope(event_type="OrderPlaced", data=None, **overrides):
    doc = {
        "specversion": "1.0",
        "id": "5b1f6c1e-1c1a-4b8e-9a51-3f1f0c7d2e10",
        "source": "erp",
        "type": event_type,
        "subject": "c-1",
        "time": "2026-11-22T10:00:00Z",
        "datacontenttype": "application/json",
        "data": order() if data is None else data,
    }
    doc.update(overrides)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("event_type", sorted(events.EVENT_TYPES))
def test_committed_schema_matches_the_model(event_type):
    committed = json.loads((SCHEMAS / f"{event_type}.json").read_text())
    assert committed == json.loads(json.dumps(events.json_schema(event_type))), (
        f"{event_type}.json drifted from the model: run `./crm schemas` and review the change"
    )


def test_every_schema_file_has_a_model():
    assert {p.stem for p in SCHEMAS.glob("*.json")} == set(events.EVENT_TYPES)


def test_a_new_event_validates_against_its_schema():
    data = events.OrderPlaced.model_validate(order(cost="10000.5"))
    event = events.new_event(data, source="crm/customers", subject="c-1")
    doc = json.loads(events.encode(event))
    jsonschema.validate(doc, events.json_schema("OrderPlaced"))
    assert doc["data"]["amount"] == "12500.00"
    assert doc["data"]["cost"] == "10000.50"
    assert doc["type"] == "OrderPlaced" and doc["specversion"] == "1.0"


def test_decode_round_trip_keeps_money_exact():
    _, data = events.decode(envelope())
    assert data.amount == Decimal("12500.00")


def test_unknown_fields_are_ignored():
    _, data = events.decode(envelope(data=order(future_field="x"), extension="y"))
    assert data.order_id == "SO-1"


def test_status_change_uses_from_on_the_wire():
    data = events.ComplaintStatusChanged.model_validate(
        {"complaint_id": "k", "customer_id": "c", "from": "received", "to": "analyzing", "actor_id": "u", "at": "2026-11-22T10:00:00Z"}
    )
    assert data.model_dump(mode="json", by_alias=True)["from"] == "received"


@pytest.mark.parametrize(
    ("raw", "reason", "mentions"),
    [
        (b"\xff\xfe not json", "unparseable", ""),
        (b"[1, 2]", "unparseable", "not a JSON object"),
        (None, "unparseable", "empty"),
        (envelope(specversion="0.3"), "envelope_violation", "specversion"),
        (envelope(id=""), "envelope_violation", "id"),
        (envelope(id="   "), "envelope_violation", "blank"),
        (envelope(time="yesterday"), "envelope_violation", "time"),
        (envelope(event_type="Bogus"), "unknown_type", "Bogus"),
        (envelope(data=order(amount="-5.00")), "schema_violation", "amount"),
        (envelope(data=order(amount="lots")), "schema_violation", "amount"),
        (envelope(data=order(amount="NaN")), "schema_violation", "amount"),
        (envelope(data=order(placed_at="2026-11-22T10:00:00")), "schema_violation", "placed_at"),
        (envelope(data={"order_id": "x"}), "schema_violation", "customer_id"),
    ],
)
def test_what_cannot_be_applied_is_named(raw, reason, mentions):
    with pytest.raises(InvalidEvent) as caught:
        events.decode(raw)
    assert caught.value.reason == reason
    assert mentions in caught.value.detail


@pytest.mark.parametrize(
    "raw",
    [
        envelope(),
        envelope(data=order(amount=12500.5, cost="3.1", payment_due="2026-12-22", currency="USD"), extension="y"),
        envelope(data=order(future_field={"nested": [1]}), subject=None),
        envelope("PaymentReceived", {"payment_id": "P", "order_id": "SO-1", "customer_id": "c-1", "amount": "1", "paid_at": "2026-11-22T10:00:00Z"}),
        envelope("CustomerUpdated", {"customer_id": "c-1", "number": "N", "name": "名字", "owner_rep_id": "r", "team_id": "t", "x": 1,
                                     "strategic_partner": True, "high_potential": False, "lifecycle": "new", "revision": 2}),
    ],
)
def test_the_one_pass_parse_agrees_with_the_step_by_step_one(raw):
    envelope_, data = events.decode(raw)
    assert isinstance(envelope_, events.TYPED_ENVELOPES[envelope_.type])  # valid events take the one-pass path
    stepwise = events.CloudEvent.model_validate(json.loads(raw))
    assert data == stepwise.payload()
    assert envelope_.model_dump(exclude={"data"}) == stepwise.model_dump(exclude={"data"})


def test_new_event_ids_are_unique_and_times_aware():
    data = events.OrderPlaced.model_validate(order())
    a, b = events.new_event(data, source="s"), events.new_event(data, source="s")
    assert a.id != b.id
    assert a.time.tzinfo is not None and a.time <= datetime.now(timezone.utc)
