"""The complaint state machine: every allowed and every forbidden transition, and the guards."""

import pytest

from services.complaints import workflow
from services.complaints.workflow import Facts, InvalidTransition, MissingForTransition
from shared.errors import DomainError

EVERYTHING = Facts(has_cause_category=True, has_plan=True, department="quality", escalation_accepted=True)
PAIRS = [(a, b) for a in workflow.STATUSES for b in workflow.STATUSES]
ALLOWED = {
    ("received", "analyzing"), ("received", "escalated"),
    ("analyzing", "solution_proposed"), ("analyzing", "escalated"),
    ("solution_proposed", "communicated"), ("solution_proposed", "analyzing"), ("solution_proposed", "escalated"),
    ("communicated", "executing"), ("communicated", "solution_proposed"), ("communicated", "escalated"),
    ("executing", "resolved"), ("executing", "escalated"),
    ("escalated", "analyzing"), ("escalated", "solution_proposed"), ("escalated", "executing"),
    ("resolved", "closed"), ("resolved", "reopened"),
    ("reopened", "analyzing"), ("reopened", "escalated"),
}


def test_the_statuses_are_the_contracts():
    from typing import get_args

    from shared.events import ComplaintStatus

    assert set(workflow.STATUSES) == set(get_args(ComplaintStatus))


@pytest.mark.parametrize("current,target", sorted(ALLOWED))
def test_allowed_transition(current, target):
    workflow.check(current, target, EVERYTHING)


@pytest.mark.parametrize("current,target", sorted(set(PAIRS) - ALLOWED))
def test_forbidden_transition_names_the_allowed_next_states(current, target):
    with pytest.raises(InvalidTransition) as refused:
        workflow.check(current, target, EVERYTHING)
    assert refused.value.status == 409
    assert refused.value.allowed == list(workflow.allowed_next(current))
    for state in workflow.allowed_next(current):
        assert state in refused.value.message


def test_the_six_steps_in_order():
    path = ["received", "analyzing", "solution_proposed", "communicated", "executing", "resolved", "closed"]
    for a, b in zip(path, path[1:]):
        workflow.check(a, b, EVERYTHING)


def test_closed_is_final():
    assert workflow.allowed_next("closed") == ()


def test_a_resolution_needs_a_cause_category():
    with pytest.raises(MissingForTransition) as missing:
        workflow.check("executing", "resolved", Facts(has_plan=True))
    assert missing.value.field == "cause.category" and missing.value.status == 422


def test_a_proposed_solution_needs_a_plan():
    with pytest.raises(MissingForTransition) as missing:
        workflow.check("analyzing", "solution_proposed", Facts())
    assert missing.value.field == "plan"


def test_escalating_needs_a_department():
    with pytest.raises(MissingForTransition) as missing:
        workflow.check("analyzing", "escalated", Facts())
    assert missing.value.field == "department"


def test_an_escalation_stays_put_until_the_department_accepts():
    with pytest.raises(DomainError) as refused:
        workflow.check("escalated", "analyzing", Facts(escalation_accepted=False))
    assert refused.value.code == "escalation_not_accepted" and refused.value.status == 409
    workflow.check("escalated", "analyzing", Facts(escalation_accepted=True))


def test_the_cause_categories_of_template_3():
    assert set(workflow.CAUSE_CATEGORIES) == {
        "our_explanation", "promise_not_kept", "attitude", "customer_mistake", "product_defect", "logistics_supply",
    }
