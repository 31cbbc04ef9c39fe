"""CloudEvents 1.0 envelope (structured JSON mode) and a typed model for every event of contract.md."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
)

from shared import topics

CONTENT_TYPE = "application/cloudevents+json"


def _two_places(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value < 0:
        raise ValueError("must not be negative")
    return value.quantize(Decimal("0.01"))


# Money travels as a decimal string with two places, never a float.
Money = Annotated[
    Decimal,
    Field(json_schema_extra={"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"}),
    AfterValidator(_two_places),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset (RFC 3339)")
    return value


Timestamp = Annotated[datetime, AfterValidator(_aware)]
Tier = Literal["A", "B", "C"]
Lifecycle = Literal["prospect", "new", "existing", "lost"]
ComplaintStatus = Literal[
    "received",
    "analyzing",
    "solution_proposed",
    "communicated",
    "executing",
    "escalated",
    "resolved",
    "closed",
    "reopened",
]


class EventData(BaseModel):
    """Payload base: unknown fields are ignored (forward compatibility)."""

    model_config = ConfigDict(extra="ignore")


class CustomerUpdated(EventData):
    """Full customer snapshot after any change, creation included."""

    model_config = ConfigDict(extra="allow")

    customer_id: str
    number: str
    name: str
    owner_rep_id: str
    team_id: str
    strategic_partner: bool
    high_potential: bool
    lifecycle: Lifecycle
    revision: int = Field(ge=1)


class NextStep(EventData):
    owner_rep_id: str
    due_at: Timestamp
    content: str


class Commitment(EventData):
    party: Literal["customer", "us"]
    content: str
    due_at: Timestamp


class VisitLogged(EventData):
    visit_id: str
    customer_id: str
    rep_id: str
    channel: str
    started_at: Timestamp
    first_visit: bool
    outcome: Literal["interested", "undecided", "not_now", "won", "lost"]
    next_step: NextStep | None = None
    commitments: list[Commitment] = Field(default_factory=list)


class OrderPlaced(EventData):
    order_id: str
    customer_id: str
    amount: Money
    currency: str = "CNY"
    cost: Money | None = None
    placed_at: Timestamp
    payment_due: date | None = None


class PaymentReceived(EventData):
    payment_id: str
    order_id: str
    customer_id: str
    amount: Money
    paid_at: Timestamp


class ComplaintFiled(EventData):
    complaint_id: str
    customer_id: str
    tier: Tier
    received_at: Timestamp
    due_at: Timestamp
    handler_id: str
    summary: str
    order_id: str | None = None


class ComplaintStatusChanged(EventData):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    complaint_id: str
    customer_id: str
    from_status: ComplaintStatus = Field(alias="from")
    to: ComplaintStatus
    actor_id: str
    at: Timestamp
    note: str | None = None


class ComplaintResolved(EventData):
    complaint_id: str
    customer_id: str
    resolved_at: Timestamp
    due_at: Timestamp
    within_sla: bool
    cause_category: str


class TierMetrics(EventData):
    purchases_12m: Money
    profit_12m: Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json")]
    credit_score: float
    score: float


class TierChanged(EventData):
    customer_id: str
    old_tier: Tier | None
    new_tier: Tier
    policy: str
    reason: str
    overridden: bool
    metrics: TierMetrics
    effective_at: Timestamp


class FollowUpDue(EventData):
    followup_id: str
    customer_id: str
    rep_id: str
    kind: Literal["cadence", "thank_you", "decision_call", "commitment", "resume"]
    due_at: Timestamp


class SlaWarning(EventData):
    complaint_id: str
    customer_id: str
    tier: Tier
    handler_id: str
    due_at: Timestamp
    at: Timestamp


class SlaBreached(SlaWarning):
    pass


# type name -> (data model, topic). The one table of the contract's events.
EVENT_TYPES: dict[str, tuple[type[EventData], str]] = {
    "CustomerUpdated": (CustomerUpdated, topics.CUSTOMERS),
    "VisitLogged": (VisitLogged, topics.CUSTOMERS),
    "OrderPlaced": (OrderPlaced, topics.ORDERS),
    "PaymentReceived": (PaymentReceived, topics.ORDERS),
    "ComplaintFiled": (ComplaintFiled, topics.COMPLAINTS),
    "ComplaintStatusChanged": (ComplaintStatusChanged, topics.COMPLAINTS),
    "ComplaintResolved": (ComplaintResolved, topics.COMPLAINTS),
    "TierChanged": (TierChanged, topics.GRADING),
    "FollowUpDue": (FollowUpDue, topics.NOTIFICATIONS),
    "SlaWarning": (SlaWarning, topics.NOTIFICATIONS),
    "SlaBreached": (SlaBreached, topics.NOTIFICATIONS),
}


class CloudEvent(BaseModel):
    """The envelope; `data` is validated separately against the model of `type`."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: Timestamp
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]

    @field_validator("id")
    @classmethod
    def _no_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    def payload(self) -> EventData:
        return parse_data(self.type, self.data)


class InvalidEvent(ValueError):
    """A message that can never be applied: it belongs in the dead-letter topic."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def parse_data(event_type: str, data: dict[str, Any]) -> EventData:
    entry = EVENT_TYPES.get(event_type)
    if entry is None:
        raise InvalidEvent("unknown_type", f"event type {event_type!r} is not in the contract")
    try:
        return entry[0].model_validate(data)
    except ValidationError as exc:
        raise InvalidEvent("schema_violation", _errors(exc)) from exc


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )[:2000]


# One envelope model per contract type (`type` a literal, `data` its model), chosen by `type`: a valid event is
# parsed and validated from its bytes in one pass inside pydantic-core, without a Python dict in between.
TYPED_ENVELOPES: dict[str, type[CloudEvent]] = {
    name: create_model(f"{name}Event", __base__=CloudEvent, type=(Literal[name], ...), data=(model, ...))  # type: ignore[call-overload]
    for name, (model, _) in EVENT_TYPES.items()
}
_ANY_TYPED_ENVELOPE: TypeAdapter[CloudEvent] = TypeAdapter(
    Annotated[Union[tuple(TYPED_ENVELOPES.values())], Field(discriminator="type")]  # type: ignore[misc]
)


def decode(raw: bytes | None) -> tuple[CloudEvent, EventData]:
    """Parse one Kafka message value; raise InvalidEvent naming what is wrong.

    The one-pass typed parse serves valid events; anything it refuses is parsed again step by step (JSON, then
    envelope, then data), which names the reason and the field.
    """
    if raw is None:
        raise InvalidEvent("unparseable", "empty message value")
    try:
        envelope = _ANY_TYPED_ENVELOPE.validate_json(raw)
    except ValidationError:
        pass
    else:
        return envelope, envelope.data  # type: ignore[attr-defined]
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent("unparseable", str(exc)[:500]) from exc
    if not isinstance(doc, dict):
        raise InvalidEvent("unparseable", "the message is not a JSON object")
    try:
        envelope = CloudEvent.model_validate(doc)
    except ValidationError as exc:
        raise InvalidEvent("envelope_violation", _errors(exc)) from exc
    return envelope, envelope.payload()


def new_event(data: EventData, *, source: str, subject: str | None = None) -> CloudEvent:
    event_type = type(data).__name__
    if event_type not in EVENT_TYPES:
        raise KeyError(event_type)
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=source,
        type=event_type,
        subject=subject,
        time=datetime.now(timezone.utc),
        data=data.model_dump(mode="json", by_alias=True, exclude_none=False),
    )


def topic_of(event_type: str) -> str:
    return EVENT_TYPES[event_type][1]


def encode(event: CloudEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode("utf-8")


def json_schema(event_type: str) -> dict[str, Any]:
    """JSON Schema of the full CloudEvent carrying `event_type`."""
    model = EVENT_TYPES[event_type][0]
    data_schema = model.model_json_schema(by_alias=True, mode="serialization")
    defs = data_schema.pop("$defs", {})
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://crm.example/schemas/{event_type}.json",
        "title": event_type,
        "description": (model.__doc__ or event_type).strip(),
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "minLength": 1},
            "source": {"type": "string", "minLength": 1},
            "type": {"const": event_type},
            "subject": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "data": data_schema,
        },
        "x-topic": topic_of(event_type),
    }
    if defs:
        schema["$defs"] = defs
    return schema
