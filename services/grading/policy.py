"""The [grading] section of the policy file: which grading policy each business unit uses, and its numbers.

Business unit of a customer: `team_units[team_id]` if mapped, else the team itself.
Policy of a unit: `units[unit]` if mapped, else `default_policy`.
Four built-in policies exist under their kind's name (thresholds, score, ranks,
subjective); `[grading.policies.<name>]` adds or replaces one.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from shared.policy import Duration, PolicyModel, load_section

Tier = Literal["A", "B", "C"]
Measure = Literal["purchases_12m", "purchases_24m", "profit_12m", "profit_24m"]


class ThresholdsPolicy(PolicyModel):
    """Handbook table (001): A >= a_min, B >= b_min, C below; strategic partner or high potential lift to A."""

    kind: Literal["thresholds"] = "thresholds"
    measure: Measure = "purchases_12m"
    a_min: Decimal = Field(default=Decimal("1000000"), ge=0)
    b_min: Decimal = Field(default=Decimal("300000"), ge=0)
    flags_lift_to_a: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdsPolicy:
        if self.b_min > self.a_min:
            raise ValueError("b_min must not exceed a_min")
        return self


class ScorePolicy(PolicyModel):
    """Weighted 100-point score (003), cut at a_min / b_min points."""

    kind: Literal["score"] = "score"
    a_min: float = Field(default=70.0, ge=0, le=100)
    b_min: float = Field(default=40.0, ge=0, le=100)
    flags_lift_to_a: bool = True

    @model_validator(mode="after")
    def _ordered(self) -> ScorePolicy:
        if self.b_min > self.a_min:
            raise ValueError("b_min must not exceed a_min")
        return self


class RanksPolicy(PolicyModel):
    """Rank ratios (Pareto): within each business unit, top a_share A, next b_share B, rest C."""

    kind: Literal["ranks"] = "ranks"
    rank_by: Literal["score", "purchases_12m", "purchases_24m", "profit_12m"] = "score"
    a_share: float = Field(default=0.2, gt=0, lt=1)
    b_share: float = Field(default=0.3, ge=0, lt=1)
    flags_lift_to_a: bool = True

    @model_validator(mode="after")
    def _fits(self) -> RanksPolicy:
        if self.a_share + self.b_share > 1:
            raise ValueError("a_share + b_share must not exceed 1")
        return self


class SubjectivePolicy(PolicyModel):
    """The rep's or manager's judgement only (new business without history)."""

    kind: Literal["subjective"] = "subjective"
    default_tier: Tier = "C"


Policy = Annotated[Union[ThresholdsPolicy, ScorePolicy, RanksPolicy, SubjectivePolicy], Field(discriminator="kind")]

BUILT_IN: dict[str, Any] = {
    "thresholds": ThresholdsPolicy(),
    "score": ScorePolicy(),
    "ranks": RanksPolicy(),
    "subjective": SubjectivePolicy(),
}


class ScoreRules(PolicyModel):
    """How the 100-point score is normalised (see domain.score)."""

    credit_weight: float = Field(default=10, ge=0)
    amount_weight: float = Field(default=30, ge=0)
    profit_weight: float = Field(default=60, ge=0)
    amount_measure: Literal["purchases_12m", "purchases_24m"] = "purchases_12m"
    amount_full_marks: Decimal = Field(default=Decimal("1000000"), gt=0)
    profit_measure: Literal["profit_12m", "profit_24m"] = "profit_12m"
    profit_full_marks: Decimal = Field(default=Decimal("300000"), gt=0)
    # average days late at which the lateness half of the credit rating reaches zero
    zero_credit_days_late: float = Field(default=30, gt=0)
    # credit rating (0..1) of a customer with no payment fallen due in the last 12 months
    credit_without_history: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _hundred(self) -> ScoreRules:
        total = self.credit_weight + self.amount_weight + self.profit_weight
        if abs(total - 100) > 1e-9:
            raise ValueError(f"credit_weight + amount_weight + profit_weight must be 100, not {total:g}")
        return self


class GradingPolicy(PolicyModel):
    default_policy: str = "thresholds"
    policies: dict[str, Policy] = Field(default_factory=lambda: dict(BUILT_IN))
    units: dict[str, str] = Field(default_factory=dict)  # business unit -> policy name
    team_units: dict[str, str] = Field(default_factory=dict)  # team id -> business unit
    score: ScoreRules = Field(default_factory=ScoreRules)
    # profit of an order without cost = amount x assumed_margin
    assumed_margin: Decimal = Field(default=Decimal("0"), ge=0, le=1)
    # a customer with no order yet takes the subjective grade set by the rep or manager, if any
    subjective_for_new: bool = True
    timezone: str = "Asia/Shanghai"
    # scheduled full re-evaluation (windows slide even without events) and override expiry check
    recompute_every: Duration = timedelta(hours=1)
    expiry_check_every: Duration = timedelta(minutes=1)

    @field_validator("policies", mode="before")
    @classmethod
    def _with_built_ins(cls, value: Any) -> Any:
        return {**BUILT_IN, **value} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _references(self) -> GradingPolicy:
        if self.default_policy not in self.policies:
            raise ValueError(f"default_policy: no policy named {self.default_policy!r} (known: {sorted(self.policies)})")
        for unit, name in self.units.items():
            if name not in self.policies:
                raise ValueError(f"units.{unit}: no policy named {name!r} (known: {sorted(self.policies)})")
        if self.recompute_every <= timedelta(0) or self.expiry_check_every <= timedelta(0):
            raise ValueError("recompute_every and expiry_check_every must be positive")
        return self

    def unit_of(self, team_id: str | None) -> str:
        return self.team_units.get(team_id or "", team_id or "")

    def policy_name_of(self, unit: str) -> str:
        return self.units.get(unit, self.default_policy)


def load() -> GradingPolicy:
    """Read [grading]; a PolicyError names the key (the service must not start with it)."""
    return load_section("grading", GradingPolicy)
