"""The customer card (domain.md §1): its four sections, classifications, credit, and how a change is recorded.

Pure rules, no I/O: what a valid card is, what a snapshot is, which fields are
unverified, what changed between two revisions, who may see a card.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from shared.auth import Principal
from shared.events import CustomerUpdated


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value.quantize(Decimal("0.01"))


# Money on a card: never negative, at most two places (12.345 is refused, not rounded), string on the wire.
Amount = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2, json_schema_extra={"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"}),
    AfterValidator(_finite),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]
Quantity = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2), PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json")]


def text(max_length: int) -> Any:
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)]


Text64, Text200, Text500, Text2000 = text(64), text(200), text(500), text(2000)
Identifier = text(64)
CustomerNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-./]*$")]
PHONE_PATTERN = r"^\+?[0-9][0-9 \-()]{4,30}$"
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40, pattern=PHONE_PATTERN)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
BankAccount = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64, pattern=r"^[0-9A-Za-z][0-9A-Za-z \-]*$")]

Lifecycle = Literal["prospect", "new", "existing", "lost"]
TradeStage = Literal["past", "current", "upcoming"]
Nature = Literal["government", "special_partner", "ordinary_company", "individual", "trade_partner"]
Volume = Literal["key", "general", "occasional"]
LegalForm = Literal["individual", "collective", "partnership", "state_owned", "joint_stock", "government_agency", "other"]
ChannelCategory = Literal["agent", "wholesaler_tier1", "wholesaler_tier2", "key_retailer", "end_customer", "other"]
PaymentAttitude = Literal["prompt", "normal", "acceptable", "delayed", "difficult"]
# Who may approve a credit limit, lowest to highest authority (KH002).
LimitApprover = Literal["office_head", "sales_manager", "sales_vp", "general_manager"]
Potential = Literal["low", "medium", "high"]
# Where card data came from; a form the customer filled in must be reviewed before it is trusted.
DataSource = Literal["rep", "customer_form", "agency"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BasicData(Section):
    """基础资料."""

    legal_form: LegalForm | None = None
    channel_category: ChannelCategory | None = None
    registration_no: Text64 | None = None
    tax_id: Text64 | None = None
    bank: Text200 | None = None
    bank_account: BankAccount | None = None
    registered_capital: Amount | None = None
    working_capital: Amount | None = None
    founded_on: date | None = None
    first_trade_on: date | None = None
    developed_by: Identifier | None = None


class Characteristics(Section):
    """客户特征."""

    service_region: Text200 | None = None
    coverage_radius_km: Quantity | None = None
    sales_capability: Text500 | None = None
    growth_potential: Potential | None = None
    business_philosophy: Text2000 | None = None
    employees: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    annual_revenue: Amount | None = None
    floor_area_m2: Quantity | None = None
    warehouse_area_m2: Quantity | None = None
    transport_mode: Text200 | None = None
    payment_method: Text200 | None = None


class BusinessStatus(Section):
    """业务状况."""

    sales_performance: Text2000 | None = None
    product_mix: Text2000 | None = None
    share_of_wallet_pct: Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)] | None = None
    competitor_relations: Text2000 | None = None
    cooperation_attitude: Text500 | None = None


class TradingStatus(Section):
    """交易现状 as the rep describes it (the figures from orders are computed, see trading_status)."""

    current_activity: Text2000 | None = None
    problems: Text2000 | None = None
    strengths: Text2000 | None = None
    outlook: Text2000 | None = None
    reputation: Text500 | None = None
    trading_terms: Text2000 | None = None
    credit_incidents: Text2000 | None = None


class Classification(Section):
    trade_stage: TradeStage | None = None
    nature: Nature | None = None
    volume: Volume | None = None


class Credit(Section):
    """信用卡 (KH002): a credit limit is only valid with its approver and approval date."""

    payment_attitude: PaymentAttitude | None = None
    bank_rating: Text64 | None = None
    credit_limit: Amount | None = None
    limit_approver: LimitApprover | None = Field(default=None, validate_default=True)
    limit_approved_by: Identifier | None = None
    limit_approved_on: date | None = Field(default=None, validate_default=True)

    @field_validator("limit_approver", "limit_approved_on")
    @classmethod
    def _limit_needs_approval(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.data.get("credit_limit") is not None:
            raise ValueError("a credit limit needs its approver and approval date")
        return value


SECTIONS: dict[str, type[Section]] = {
    "basic": BasicData,
    "characteristics": Characteristics,
    "business": BusinessStatus,
    "trading": TradingStatus,
    "classification": Classification,
    "credit": Credit,
}


class CustomerCard(BaseModel):
    """The card as stored and published (CustomerUpdated is this plus id and revision)."""

    model_config = ConfigDict(extra="forbid")

    number: CustomerNumber
    name: Text200
    owner_rep_id: Identifier
    team_id: Identifier
    strategic_partner: bool = False
    high_potential: bool = False
    lifecycle: Lifecycle = "prospect"
    phone: Phone | None = None
    address: Text500 | None = None
    region: Text200 | None = None
    basic: BasicData = Field(default_factory=BasicData)
    characteristics: Characteristics = Field(default_factory=Characteristics)
    business: BusinessStatus = Field(default_factory=BusinessStatus)
    trading: TradingStatus = Field(default_factory=TradingStatus)
    classification: Classification = Field(default_factory=Classification)
    credit: Credit = Field(default_factory=Credit)


class CustomerIn(CustomerCard):
    """A new card. `source` says who supplied the data; customer-supplied fields start unverified."""

    source: DataSource = "rep"


class CustomerPatch(BaseModel):
    """A partial change: top-level fields replace, section fields merge into the section (null clears)."""

    model_config = ConfigDict(extra="forbid")

    number: CustomerNumber | None = None
    name: Text200 | None = None
    owner_rep_id: Identifier | None = None
    team_id: Identifier | None = None
    strategic_partner: bool | None = None
    high_potential: bool | None = None
    lifecycle: Lifecycle | None = None
    phone: Phone | None = None
    address: Text500 | None = None
    region: Text200 | None = None
    basic: dict[str, Any] | None = None
    characteristics: dict[str, Any] | None = None
    business: dict[str, Any] | None = None
    trading: dict[str, Any] | None = None
    classification: dict[str, Any] | None = None
    credit: dict[str, Any] | None = None
    source: DataSource = "rep"


class Verification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: list[Annotated[str, StringConstraints(max_length=100)]] = Field(min_length=1, max_length=200)


NOT_NULLABLE = frozenset({"number", "name", "owner_rep_id", "team_id", "strategic_partner", "high_potential", "lifecycle"})


def merge_patch(card: dict[str, Any], patch: CustomerPatch) -> dict[str, Any]:
    """The card document after `patch` (not yet validated: CustomerCard.model_validate does that)."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in card.items()}
    for key, value in patch.model_dump(exclude_unset=True, exclude={"source"}).items():
        if key in SECTIONS:
            merged[key] = {**(merged.get(key) or {}), **(value or {})}
        elif value is None and key in NOT_NULLABLE:
            merged[key] = card.get(key)  # null on a required field means "unchanged", never "cleared"
        else:
            merged[key] = value
    return merged


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'credit': {'credit_limit': '5.00'}} -> {'credit.credit_limit': '5.00'}."""
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for path, value in flat.items():
        head, _, tail = path.partition(".")
        if tail:
            doc.setdefault(head, {})[tail] = value
        else:
            doc[head] = value
    return doc


def card_document(card: CustomerCard) -> dict[str, Any]:
    """The stored JSON form of a validated card."""
    return card.model_dump(mode="json", exclude={"source"})


def supplied_fields(patch_or_card: BaseModel) -> set[str]:
    """Dot paths the caller actually supplied (non-null), for verification bookkeeping."""
    return {path for path, value in flatten(patch_or_card.model_dump(mode="json", exclude_unset=True, exclude={"source"})).items() if value is not None}


OWNERSHIP_FIELDS = frozenset({"owner_rep_id", "team_id", "number"})


def next_unverified(current: list[str], *, supplied: set[str], source: DataSource) -> list[str]:
    """Customer-supplied fields are unverified until a rep or manager supplies or verifies them."""
    if source == "customer_form":
        return sorted(set(current) | (supplied - OWNERSHIP_FIELDS))
    return sorted(set(current) - supplied)


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What changed between two card documents, by dot path: {path: {'old': .., 'new': ..}}."""
    before, after = flatten(old), flatten(new)
    return {
        path: {"old": before.get(path), "new": after.get(path)}
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path)
    }


def snapshot(customer_id: str, document: dict[str, Any], revision: int, *, unverified: list[str]) -> CustomerUpdated:
    """The CustomerUpdated payload: the full card after the change."""
    return CustomerUpdated.model_validate({**document, "customer_id": customer_id, "revision": revision, "unverified": unverified})


def can_see(principal: Principal, *, owner_rep_id: str, team_id: str) -> bool:
    """Confidentiality (domain.md §1): rep own customers in own team, manager own team, admin all."""
    if principal.role == "admin":
        return True
    if principal.role == "manager":
        return team_id == principal.team_id
    return owner_rep_id == principal.user_id and team_id == principal.team_id


def ownership_change_allowed(principal: Principal, *, old_owner: str, old_team: str, new_owner: str, new_team: str) -> str | None:
    """None if allowed, else the field that may not change: reps never reassign; only admins move teams."""
    if new_team != old_team and principal.role != "admin":
        return "team_id"
    if new_owner != old_owner and principal.role == "rep":
        return "owner_rep_id"
    return None


PORTFOLIO_TIERS = ("A", "B", "C", "ungraded")


def portfolio_balance(rows: list[tuple[str, str | None, int, Decimal]]) -> dict[str, Any]:
    """Per rep, count and 12-month value of customers by tier (003: spread good accounts fairly).

    `rows` are (rep, tier or None, count, value). `a_spread` is the gap between the reps with the most and
    the fewest A customers: the number a manager watches to see whether someone is starved of good accounts.
    """
    reps: dict[str, dict[str, dict[str, Any]]] = {}
    for rep, tier, count, value in rows:
        by_tier = reps.setdefault(rep, {t: {"count": 0, "value": Decimal("0.00")} for t in PORTFOLIO_TIERS})
        cell = by_tier[tier if tier in PORTFOLIO_TIERS else "ungraded"]
        cell["count"] += count
        cell["value"] += Decimal(value)
    a_counts = [by_tier["A"]["count"] for by_tier in reps.values()]
    return {
        "reps": [
            {
                "rep_id": rep,
                "tiers": {t: {"count": c["count"], "value": f"{c['value']:.2f}"} for t, c in by_tier.items()},
                "customers": sum(c["count"] for c in by_tier.values()),
                "value": f"{sum((c['value'] for c in by_tier.values()), Decimal('0')):.2f}",
            }
            for rep, by_tier in sorted(reps.items())
        ],
        "a_spread": (max(a_counts) - min(a_counts)) if a_counts else 0,
    }
