"""The notifier's rules (domain.md §5), pure, with `now` passed in. Week of Mon 2026-11-23, Asia/Shanghai, 09:00-18:00."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.notifier.domain import Rules, signature
from services.notifier.policy import NotifierPolicy
from shared.business_calendar import BusinessCalendar
from shared.events import VisitLogged

SH = ZoneInfo("Asia/Shanghai")
rules = Rules(NotifierPolicy(), BusinessCalendar())


def at(day, hour=10, minute=0):
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def visit(**kw):
    base = dict(visit_id="v1", customer_id="c1", rep_id="rep-1", channel="on_site", started_at=at(23), first_visit=False, outcome="interested")
    return VisitLogged.model_validate({**base, **kw})


def kinds(plan):
    return {f.kind: f for f in plan.followups}


def test_cadence_by_tier_counts_from_the_last_contact():
    assert rules.next_cadence(tier="A", anchor=at(23)) == at(30)
    assert rules.next_cadence(tier="B", anchor=at(23)) == datetime(2026, 12, 7, 10, tzinfo=SH)
    assert rules.next_cadence(tier="C", anchor=at(23)) == datetime(2026, 12, 23, 10, tzinfo=SH)
    assert rules.next_cadence(tier=None, anchor=at(23)) == rules.next_cadence(tier="C", anchor=at(23))  # not graded yet


def test_a_tier_change_reschedules_the_next_cadence():
    assert rules.next_cadence(tier="A", anchor=at(23)) < rules.next_cadence(tier="C", anchor=at(23))


def test_human_facing_follow_ups_fall_in_working_hours():
    # Sat 2026-11-28 10:00 -> Mon 30th 09:00; Mon 20:00 -> Tue 09:00
    assert rules.next_cadence(tier="A", anchor=at(21)) == at(30, 9)
    assert rules.human(at(23, 20)) == at(24, 9)


def test_first_visit_asks_for_a_thank_you_within_24_hours():
    plan = rules.after_visit(visit(first_visit=True, started_at=at(23, 15)))
    thanks = kinds(plan)["thank_you"]
    assert thanks.fire_at == at(23, 15)
    assert thanks.due_at == at(24, 15)
    assert thanks.due_at - at(23, 15) <= timedelta(hours=24)


def test_a_friday_evening_thank_you_is_due_before_the_24_hours_run_out():
    plan = rules.after_visit(visit(first_visit=True, started_at=at(27, 19)))  # Fri 19:00, Sat 19:00 is the limit
    thanks = kinds(plan)["thank_you"]
    assert thanks.fire_at == at(30, 9)  # first working moment
    assert thanks.due_at == thanks.fire_at  # no working moment inside the 24 h: as soon as possible


def test_no_thank_you_after_a_later_visit():
    assert "thank_you" not in kinds(rules.after_visit(visit(first_visit=False)))


def test_undecided_asks_for_a_decision_call_after_three_days():
    call = kinds(rules.after_visit(visit(outcome="undecided")))["decision_call"]
    assert call.due_at == at(26) and call.fire_at == at(26)
    assert "decision_call" not in kinds(rules.after_visit(visit(outcome="interested")))


def test_not_now_pauses_for_45_days_then_resumes():
    plan = rules.after_visit(visit(outcome="not_now"))
    assert plan.pause_until == at(23) + timedelta(days=45)
    resume = kinds(plan)["resume"]
    assert resume.due_at == datetime(2027, 1, 7, 10, tzinfo=SH)  # Thu, a working day


def test_commitments_and_next_steps_are_reminded_a_day_before_due():
    plan = rules.after_visit(
        visit(
            commitments=[
                {"party": "us", "content": "send the quotation", "due_at": at(27, 17).isoformat()},
                {"party": "customer", "content": "confirm the budget", "due_at": at(30, 11).isoformat()},
            ],
            next_step={"owner_rep_id": "rep-2", "due_at": at(25, 14).isoformat(), "content": "demo"},
        )
    )
    reminders = [f for f in plan.followups if f.kind == "commitment"]
    assert [(r.fire_at, r.due_at, r.rep_id) for r in reminders] == [
        (at(26, 17), at(27, 17), "rep-1"),
        (at(27, 18), at(30, 11), "rep-1"),  # Sun 11:00 is not worked: back to Friday's close
        (at(24, 14), at(25, 14), "rep-2"),
    ]
    assert {r.source for r in reminders} == {"visit:v1:commitment:0", "visit:v1:commitment:1", "visit:v1:commitment:2"}


def test_a_commitment_due_sooner_than_the_lead_is_reminded_at_once():
    assert rules.reminder_at(at(23, 12), now=at(23, 10)) == at(23, 10)


def test_contact_cap_merges_what_falls_due_together():
    d = rules.cap_contacts(due=[("b", at(23, 10)), ("a", at(23, 9))], recent=[], now=at(23, 11))
    assert d.fire == ["a"] and d.merged == {"b": "a"} and d.defer_until is None


def test_contact_cap_defers_a_second_contact_in_one_day():
    d = rules.cap_contacts(due=[("x", at(23, 15))], recent=[at(23, 10)], now=at(23, 15))
    assert d.fire == [] and d.defer_until == at(24, 10)


def test_contact_cap_allows_three_a_week():
    recent = [at(20, 10), at(21, 10), at(22, 10)]  # Fri, Sat, Sun
    d = rules.cap_contacts(due=[("x", at(23, 15))], recent=recent, now=at(23, 15))
    assert d.fire == [] and d.defer_until == at(27, 10)  # when Friday's contact leaves the week
    assert rules.cap_contacts(due=[("x", at(27, 11))], recent=recent, now=at(27, 11)).fire == ["x"]


def test_sla_warning_at_75_percent_of_the_allowed_time():
    assert rules.sla_warning_at(received_at=at(23, 10), due_at=at(27, 10)) == at(26, 10)


def test_sla_warning_in_business_time():
    business = Rules(NotifierPolicy.model_validate({"sla": {"clock": "business"}}), BusinessCalendar())
    # Fri 09:00 -> Tue 09:00 is 18 working hours; 75 % = 13.5 h -> Mon 13:30
    assert business.sla_warning_at(received_at=at(27, 9), due_at=datetime(2026, 12, 1, 9, tzinfo=SH)) == at(30, 13, 30)


def test_escalation_repeats_and_does_not_burst_after_downtime():
    assert rules.next_escalation(after=at(23, 10), now=at(23, 10)) == at(23, 14)
    assert rules.next_escalation(after=at(23, 10), now=at(24, 10)) == at(24, 14)


def test_delivery_retries_back_off_exponentially_up_to_a_maximum():
    assert [rules.retry_delay(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert rules.retry_delay(30) == timedelta(minutes=10)


def test_webhook_signature_is_hmac_sha256_of_the_body():
    import hashlib
    import hmac

    assert signature("s3cret", b"{}") == "sha256=" + hmac.new(b"s3cret", b"{}", hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "toml, key",
    [
        ('[notifier.cadence]\nA = "7 days"', "notifier.cadence.A"),
        ('[notifier]\nthank_you_within = "PT0S"', "notifier.thank_you_within"),
        ("[notifier.contact_cap]\nper_day = 0", "notifier.contact_cap.per_day"),
        ("[notifier.sla]\nwarning_share = 1.5", "notifier.sla.warning_share"),
        ('[notifier.delivery]\nretry_initial = "soon"', "notifier.delivery.retry_initial"),
    ],
)
def test_a_malformed_policy_stops_the_start_up_naming_the_key(tmp_path, monkeypatch, toml, key):
    from services.notifier.app import build
    from shared.policy import PolicyError

    path = tmp_path / "policy.toml"
    path.write_text(toml + "\n")
    monkeypatch.setenv("CRM_POLICY_FILE", str(path))
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        build()
