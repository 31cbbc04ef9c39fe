"""Grading rules as plain functions (domain.md §3). No I/O.

These are the reference of the rules; `evaluation.py` runs the same rules as
set-based SQL over every customer, and a test checks both agree.

Normalisation of the 100-point score (policy [grading.score]):
- credit (default 10 points): rating in 0..1 = mean of
  (a) the on-time ratio of payments fallen due in the last 12 months and
  (b) max(0, 1 - average days late / zero_credit_days_late);
  with no payment fallen due, the rating is `credit_without_history` (0.5).
  An order counts as paid on time when fully paid on or before its due date.
  `average days late` averages over the late orders only (unpaid overdue
  orders count up to today).
- order amount (default 30 points): min(1, purchases / amount_full_marks),
  purchases over `amount_measure` (trailing 12 months by default).
- profit contribution (default 60 points): min(1, max(0, profit) / profit_full_marks),
  profit = amount - cost (amount x assumed_margin when an order has no cost).
Score = the weighted sum, 0..100, rounded to 2 places.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

from services.grading.policy import RanksPolicy, ScorePolicy, ScoreRules, SubjectivePolicy, ThresholdsPolicy


@dataclass(frozen=True)
class Metrics:
    purchases_12m: Decimal = Decimal("0")
    purchases_24m: Decimal = Decimal("0")
    profit_12m: Decimal = Decimal("0")
    profit_24m: Decimal = Decimal("0")
    order_count: int = 0
    on_time_ratio: float | None = None  # None: no payment fallen due in the window
    avg_days_late: float = 0.0


@dataclass(frozen=True)
class Flags:
    strategic_partner: bool = False
    high_potential: bool = False


@dataclass(frozen=True)
class Cutoffs:
    """Values at the A and B boundary of the last ranking of a business unit."""

    a_min: float | None
    b_min: float | None


@dataclass(frozen=True)
class Grade:
    tier: str
    reason: str


def credit_rating(m: Metrics, rules: ScoreRules) -> float:
    if m.on_time_ratio is None:
        return rules.credit_without_history
    lateness = max(0.0, 1.0 - m.avg_days_late / rules.zero_credit_days_late)
    return (m.on_time_ratio + lateness) / 2


def score(m: Metrics, rules: ScoreRules) -> float:
    amount = getattr(m, rules.amount_measure)
    profit = getattr(m, rules.profit_measure)
    points = (
        rules.credit_weight * credit_rating(m, rules)
        + rules.amount_weight * min(1.0, float(amount / rules.amount_full_marks))
        + rules.profit_weight * min(1.0, float(max(Decimal(0), profit) / rules.profit_full_marks))
    )
    return round(points, 2)


def _lift(flags: Flags) -> Grade | None:
    if flags.strategic_partner:
        return Grade("A", "strategic partner lifts to A")
    if flags.high_potential:
        return Grade("A", "high growth potential lifts to A")
    return None


def by_thresholds(policy: ThresholdsPolicy, m: Metrics, flags: Flags) -> Grade:
    if policy.flags_lift_to_a and (lifted := _lift(flags)):
        return lifted
    value = getattr(m, policy.measure)
    if value >= policy.a_min:
        return Grade("A", f"{policy.measure} {value:.2f} >= A threshold {policy.a_min:.2f}")
    if value >= policy.b_min:
        return Grade("B", f"{policy.measure} {value:.2f} >= B threshold {policy.b_min:.2f}, below A {policy.a_min:.2f}")
    return Grade("C", f"{policy.measure} {value:.2f} below B threshold {policy.b_min:.2f}")


def by_score(policy: ScorePolicy, points: float, flags: Flags) -> Grade:
    if policy.flags_lift_to_a and (lifted := _lift(flags)):
        return lifted
    if points >= policy.a_min:
        return Grade("A", f"score {points:.2f} >= A score {policy.a_min:.2f}")
    if points >= policy.b_min:
        return Grade("B", f"score {points:.2f} >= B score {policy.b_min:.2f}, below A {policy.a_min:.2f}")
    return Grade("C", f"score {points:.2f} below B score {policy.b_min:.2f}")


def rank_cutoffs(policy: RanksPolicy, values: list[float]) -> Cutoffs:
    """Top ceil(n x a_share) are A, the next up to ceil(n x (a_share + b_share)) B; ties at a boundary go up."""
    ranked = sorted(values, reverse=True)
    n = len(ranked)
    a_count = math.ceil(n * Decimal(str(policy.a_share)))
    b_count = math.ceil(n * (Decimal(str(policy.a_share)) + Decimal(str(policy.b_share))))
    return Cutoffs(ranked[a_count - 1] if a_count else None, ranked[b_count - 1] if b_count else None)


def by_rank(policy: RanksPolicy, value: float, cutoffs: Cutoffs | None, flags: Flags) -> Grade:
    if policy.flags_lift_to_a and (lifted := _lift(flags)):
        return lifted
    # nothing bought means nothing to rank: never above C
    if cutoffs and value > 0 and cutoffs.a_min is not None and value >= cutoffs.a_min:
        return Grade("A", f"{policy.rank_by} {value:.2f} in the top {policy.a_share:.0%} (A cut-off {cutoffs.a_min:.2f})")
    if cutoffs and value > 0 and cutoffs.b_min is not None and value >= cutoffs.b_min:
        return Grade("B", f"{policy.rank_by} {value:.2f} in the next {policy.b_share:.0%} (B cut-off {cutoffs.b_min:.2f})")
    return Grade("C", f"{policy.rank_by} {value:.2f} below the B cut-off of the ranking")


def by_subjective(policy: SubjectivePolicy, subjective: str | None) -> Grade:
    if subjective:
        return Grade(subjective, f"subjective grade {subjective}")
    return Grade(policy.default_tier, f"no subjective grade set; default {policy.default_tier}")


def effective(
    computed: Grade,
    *,
    override: tuple[str, str, datetime] | None,  # tier, reason, expires_at (already known active)
    subjective: str | None,
    order_count: int,
    subjective_for_new: bool,
) -> tuple[Grade, bool]:
    """A manager's override wins until it expires; a customer without history may take the rep's judgement."""
    if override is not None:
        tier, reason, expires_at = override
        until = expires_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Grade(tier, f"override until {until}: {reason}"), True
    if subjective_for_new and order_count == 0 and subjective:
        return Grade(subjective, f"subjective grade {subjective} for a new customer without orders"), False
    return computed, False
