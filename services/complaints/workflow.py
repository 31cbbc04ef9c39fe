"""The complaint workflow as a state machine (pure, no I/O) — domain.md §4, the six steps of 000.

received -> analyzing -> solution_proposed -> communicated -> executing -> resolved -> closed,
with `escalated` (another department must accept; until it does the original handler stays
responsible and the complaint cannot move on) and `reopened` (the customer rejects the outcome).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import DomainError

CAUSE_CATEGORIES: dict[str, str] = {
    "our_explanation": "our side: insufficient explanation",
    "promise_not_kept": "our side: promise not kept",
    "attitude": "our side: attitude",
    "customer_mistake": "customer's own mistake or misunderstanding",
    "product_defect": "product defect or equipment failure",
    "logistics_supply": "logistics or supply",
}

_ESCALATE = "escalated"
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("analyzing", _ESCALATE),
    "analyzing": ("solution_proposed", _ESCALATE),
    # the plan may need rework before it is communicated
    "solution_proposed": ("communicated", "analyzing", _ESCALATE),
    # the customer accepts the plan (executing) or asks for another (solution_proposed)
    "communicated": ("executing", "solution_proposed", _ESCALATE),
    "executing": ("resolved", _ESCALATE),
    # the accepting department picks the work up where it stands
    "escalated": ("analyzing", "solution_proposed", "executing"),
    "resolved": ("closed", "reopened"),
    "closed": (),
    "reopened": ("analyzing", _ESCALATE),
}
STATUSES: tuple[str, ...] = tuple(TRANSITIONS)
OPEN_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s not in ("resolved", "closed"))


class InvalidTransition(DomainError):
    """A transition out of order: 409, naming the allowed next states."""

    status = 409
    code = "invalid_transition"

    def __init__(self, current: str, target: str) -> None:
        self.allowed = list(TRANSITIONS[current])
        allowed = ", ".join(self.allowed) or "none (the complaint is closed)"
        super().__init__(f"a complaint cannot go from {current} to {target}; allowed next: {allowed}", field="to")


class MissingForTransition(DomainError):
    status = 422
    code = "missing_for_transition"


@dataclass(frozen=True)
class Facts:
    """What the guards need to know about the complaint, with the transition's own input merged in."""

    has_cause_category: bool = False
    has_plan: bool = False
    department: str | None = None
    escalation_accepted: bool = False


def allowed_next(current: str) -> tuple[str, ...]:
    return TRANSITIONS[current]


def check(current: str, target: str, facts: Facts = Facts()) -> None:
    """Raise unless `current -> target` is allowed and its prerequisites are met."""
    if target not in TRANSITIONS.get(current, ()):
        raise InvalidTransition(current, target)
    if target == "escalated" and not facts.department:
        raise MissingForTransition("escalating needs the department it goes to", field="department")
    if current == "escalated" and not facts.escalation_accepted:
        raise DomainError(
            "the department has not accepted the escalation yet; the original handler stays responsible",
            field="to",
            code="escalation_not_accepted",
            status=409,
        )
    if target == "solution_proposed" and not facts.has_plan:
        raise MissingForTransition("a proposed solution needs a handling plan with at least one action", field="plan")
    if target == "resolved" and not facts.has_cause_category:
        raise MissingForTransition(
            f"a resolution needs the cause category (one of {', '.join(CAUSE_CATEGORIES)})", field="cause.category"
        )
