"""Property-based tests (hypothesis) of the pure domain rules: grading, the complaint workflow and SLA, the
business calendar, the contact cap, and money in events. Examples per property are bounded (<= 200)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.complaints import sla, workflow
from services.complaints.policy import ComplaintsPolicy
from services.grading import domain as grading
from services.grading.policy import RanksPolicy, ScorePolicy, ScoreRules, ThresholdsPolicy
from services.notifier.domain import Rules
from services.notifier.policy import NotifierPolicy
from shared import events
from shared.business_calendar import BusinessCalendar
from shared.errors import DomainError

SHANGHAI = ZoneInfo("Asia/Shanghai")
RANK = {"A": 3, "B": 2, "C": 1}
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
THOROUGH = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

money = st.decimals(min_value=0, max_value=Decimal("99999999999.99"), places=2, allow_nan=False, allow_infinity=False)
signed_money = st.decimals(min_value=Decimal("-9999999.99"), max_value=Decimal("99999999.99"), places=2, allow_nan=False, allow_infinity=False)
flags = st.builds(grading.Flags, strategic_partner=st.booleans(), high_potential=st.booleans())


@st.composite
def thresholds_policies(draw):
    b = draw(money)
    a = draw(money.filter(lambda v: v >= b))
    return ThresholdsPolicy(a_min=a, b_min=b, flags_lift_to_a=draw(st.booleans()))


@st.composite
def metrics(draw):
    p12 = draw(money)
    return grading.Metrics(
        purchases_12m=p12,
        purchases_24m=p12 + draw(money),
        profit_12m=draw(signed_money),
        profit_24m=draw(signed_money),
        order_count=draw(st.integers(0, 10_000)),
        on_time_ratio=draw(st.none() | st.floats(0, 1)),
        avg_days_late=draw(st.floats(0, 3650)),
    )


# --- grading -------------------------------------------------------------------------------------------------


@THOROUGH
@given(policy=thresholds_policies(), m=metrics(), more=money, f=flags)
def test_more_purchases_never_lower_the_threshold_tier(policy, m, more, f):
    richer = grading.Metrics(**{**m.__dict__, "purchases_12m": m.purchases_12m + more, "purchases_24m": m.purchases_24m + more})
    before, after = grading.by_thresholds(policy, m, f), grading.by_thresholds(policy, richer, f)
    assert RANK[after.tier] >= RANK[before.tier]
    if policy.flags_lift_to_a and (f.strategic_partner or f.high_potential):
        assert before.tier == after.tier == "A"


@THOROUGH
@given(policy=thresholds_policies(), m=metrics())
def test_threshold_tier_matches_its_bands(policy, m):
    tier = grading.by_thresholds(policy, m, grading.Flags()).tier
    value = m.purchases_12m
    assert tier == ("A" if value >= policy.a_min else "B" if value >= policy.b_min else "C")


@THOROUGH
@given(m=metrics(), more_amount=money, more_profit=money, better_ratio=st.floats(0, 1), less_late=st.floats(0, 1))
def test_score_is_within_0_100_and_monotone(m, more_amount, more_profit, better_ratio, less_late):
    rules = ScoreRules()
    base = grading.score(m, rules)
    assert 0 <= base <= 100
    better = grading.Metrics(**{
        **m.__dict__,
        "purchases_12m": m.purchases_12m + more_amount,
        "profit_12m": m.profit_12m + more_profit,
        "on_time_ratio": None if m.on_time_ratio is None else m.on_time_ratio + (1 - m.on_time_ratio) * better_ratio,
        "avg_days_late": m.avg_days_late * less_late,
    })
    assert base <= grading.score(better, rules) <= 100


@FAST
@given(points=st.floats(0, 100), more=st.floats(0, 100), b=st.floats(0, 100), a=st.floats(0, 100))
def test_score_tier_is_monotone_in_points(points, more, b, a):
    policy = ScorePolicy(a_min=max(a, b), b_min=min(a, b), flags_lift_to_a=False)
    low, high = grading.by_score(policy, points, grading.Flags()), grading.by_score(policy, min(100.0, points + more), grading.Flags())
    assert RANK[high.tier] >= RANK[low.tier]


shares = st.tuples(st.floats(0.01, 0.99), st.floats(0, 0.99)).filter(lambda s: s[0] + s[1] <= 1)


@THOROUGH
@given(values=st.lists(st.floats(0.01, 1e9, allow_nan=False), min_size=1, max_size=300, unique=True), s=shares)
def test_rank_ratios_partition_distinct_values_by_the_shares(values, s):
    policy = RanksPolicy(a_share=s[0], b_share=s[1], flags_lift_to_a=False)
    cut = grading.rank_cutoffs(policy, values)
    tiers = [grading.by_rank(policy, v, cut, grading.Flags()).tier for v in values]
    n = len(values)
    a_count = math.ceil(n * Decimal(str(s[0])))
    ab_count = min(n, math.ceil(n * (Decimal(str(s[0])) + Decimal(str(s[1])))))
    assert tiers.count("A") == a_count
    assert tiers.count("A") + tiers.count("B") == ab_count
    assert len(tiers) == n


@THOROUGH
@given(values=st.lists(st.sampled_from([0.0, 1.0, 2.0, 5.0, 5.0, 9.5, 100.0]), min_size=1, max_size=100), s=shares)
def test_rank_tiers_are_monotone_and_ties_go_up(values, s):
    policy = RanksPolicy(a_share=s[0], b_share=s[1], flags_lift_to_a=False)
    cut = grading.rank_cutoffs(policy, values)
    tier_of = {v: grading.by_rank(policy, v, cut, grading.Flags()).tier for v in values}
    ordered = sorted(tier_of)
    assert all(RANK[tier_of[lo]] <= RANK[tier_of[hi]] for lo, hi in zip(ordered, ordered[1:]))
    assert tier_of.get(0.0, "C") == "C"  # nothing bought is never ranked above C
    positive = [v for v in values if v > 0]
    a_count = math.ceil(len(values) * Decimal(str(s[0])))
    # ties at the boundary go up, so at least the share (counted over positive values) holds A
    assert sum(1 for v in values if tier_of[v] == "A") >= min(a_count, len(positive))


# --- complaints: the workflow state machine and SLA -----------------------------------------------------------

facts = st.builds(workflow.Facts, has_cause_category=st.booleans(), has_plan=st.booleans(),
                  department=st.none() | st.just("quality"), escalation_accepted=st.booleans())


@THOROUGH
@given(steps=st.lists(st.tuples(st.integers(0, 10), facts, st.none() | st.sampled_from(workflow.STATUSES + ("bogus", "reviewed"))),
                      max_size=60))
def test_random_walks_stay_inside_the_graph_and_closed_is_final(steps):
    """Walk mostly along allowed edges (so closed is reached often), mixing in arbitrary targets."""
    current, visited = "received", {"received"}
    for choice, f, arbitrary in steps:
        allowed = workflow.allowed_next(current)
        if arbitrary is None and not allowed:
            assert current == "closed"  # the only state without a way out
            arbitrary = workflow.STATUSES[choice % len(workflow.STATUSES)]
        target = arbitrary or allowed[choice % len(allowed)]
        try:
            workflow.check(current, target, f)
        except workflow.InvalidTransition as exc:
            assert target not in workflow.TRANSITIONS[current]
            assert exc.allowed == list(workflow.TRANSITIONS[current]) and exc.status == 409
            continue
        except DomainError as exc:
            assert target in workflow.TRANSITIONS[current] and exc.status in (409, 422)  # a guard, not the graph
            continue
        assert current != "closed", f"left closed for {target}"
        assert target in allowed
        if target == "resolved":
            assert f.has_cause_category
        if target == "solution_proposed":
            assert f.has_plan
        if current == "escalated":
            assert f.escalation_accepted
        current = target
        visited.add(current)
    assert visited <= set(workflow.STATUSES)
    if current == "closed":
        for target in workflow.STATUSES:
            with pytest.raises(workflow.InvalidTransition):
                workflow.check("closed", target, workflow.Facts(True, True, "quality", True))


@FAST
@given(path=st.lists(st.integers(0, 10), max_size=30))
def test_closed_is_reachable_from_every_open_status(path):
    # walk somewhere, then check a way to closed exists (no dead end other than closed)
    current = "received"
    for choice in path:
        nxt = workflow.allowed_next(current)
        if not nxt:
            break
        current = nxt[choice % len(nxt)]
    seen, frontier = {current}, [current]
    while frontier:
        for nxt in workflow.allowed_next(frontier.pop()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert "closed" in seen


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(SHANGHAI))
work_seconds = st.integers(1, 25 * 9 * 3600).map(lambda s: timedelta(seconds=s))


@FAST
@given(received=instants, tier=st.sampled_from("ABC"), paused=st.integers(0, 5 * 9 * 3600), more_pause=st.integers(0, 9 * 3600),
       mode=st.sampled_from(["business", "calendar"]))
def test_sla_deadlines_are_ordered_and_pauses_only_push_them_back(received, tier, paused, more_pause, mode):
    clock, policy = sla.SlaClock(mode), ComplaintsPolicy()
    d = sla.deadlines(clock=clock, policy=policy, tier=tier, received_at=received, paused_for=timedelta(seconds=paused))
    later = sla.deadlines(clock=clock, policy=policy, tier=tier, received_at=received, paused_for=timedelta(seconds=paused + more_pause))
    assert received <= d.at_risk_at <= d.due_at and received <= d.first_response_due_at
    assert later.due_at >= d.due_at and later.at_risk_at >= d.at_risk_at
    by_tier = [sla.deadlines(clock=clock, policy=policy, tier=t, received_at=received).due_at for t in "ABC"]
    assert by_tier == sorted(by_tier)  # a higher tier is never given longer
    for now in (received, d.at_risk_at, d.due_at, d.due_at + timedelta(seconds=1)):
        status = sla.status(now=now, at_risk_at=d.at_risk_at, due_at=d.due_at)
        assert status == ("breached" if now >= d.due_at else "at_risk" if now >= d.at_risk_at else "on_track")


# --- business calendar ------------------------------------------------------------------------------------------

calendar = BusinessCalendar()


@THOROUGH
@given(start=instants, d1=work_seconds, d2=work_seconds)
def test_working_time_addition_is_associative(start, d1, d2):
    # (durations > 0: add(t, 0) moves a closing moment to the next opening, which is the point of it)
    assert calendar.add(start, d1 + d2) == calendar.add(calendar.add(start, d1), d2)


@THOROUGH
@given(start=instants, d=work_seconds | st.just(timedelta(0)))
def test_working_time_between_inverts_add(start, d):
    end = calendar.add(start, d)
    assert end >= start
    assert calendar.working_time_between(start, end) == d
    assert calendar.is_working_day(end.astimezone(SHANGHAI).date())


@FAST
@given(a=instants, b=instants, c=instants)
def test_working_time_between_is_additive(a, b, c):
    a, b, c = sorted((a, b, c))
    between = calendar.working_time_between
    assert between(a, c) == between(a, b) + between(b, c)
    assert between(c, a) == timedelta(0)
    assert between(a, c) <= c - a


# --- notifier: the contact cap ----------------------------------------------------------------------------------


@THOROUGH
@given(per_day=st.integers(1, 3), per_week=st.integers(1, 8),
       arrivals=st.lists(st.integers(0, 30 * 24 * 60), min_size=1, max_size=60))
def test_contact_cap_is_never_exceeded_in_any_window(per_day, per_week, arrivals):
    policy = NotifierPolicy.model_validate({"contact_cap": {"per_day": per_day, "per_week": per_week}, "working_hours_only": False})
    rules = Rules(policy, calendar)
    start = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    pending = sorted((start + timedelta(minutes=m), f"f{i}") for i, m in enumerate(arrivals))
    contacts: list[datetime] = []
    asks = 0
    while pending and asks < 2000:
        asks += 1
        now = pending[0][0]
        due = [(fid, at) for at, fid in pending if at <= now]
        decision = rules.cap_contacts(due=due, recent=contacts, now=now)
        if decision.fire:
            assert len(decision.fire) == 1 and set(decision.merged) | set(decision.fire) == {fid for fid, _ in due}
            contacts.append(now)
            pending = [(at, fid) for at, fid in pending if at > now]
        else:
            assert decision.defer_until is not None and decision.defer_until > now
            pending = sorted([(decision.defer_until, fid) for at, fid in pending if at <= now] + [(at, fid) for at, fid in pending if at > now])
    assert not pending, "the cap deferred forever"
    day, week = policy.contact_cap.day, policy.contact_cap.week
    for c in contacts:
        assert sum(1 for t in contacts if c - day < t <= c) <= per_day
        assert sum(1 for t in contacts if c - week < t <= c) <= per_week


# --- events: money ----------------------------------------------------------------------------------------------


@THOROUGH
@given(amount=money, cost=st.none() | money)
def test_money_round_trips_exactly_as_a_two_place_string(amount, cost):
    order = events.OrderPlaced(order_id="SO-1", customer_id="c-1", amount=amount, cost=cost, placed_at=datetime(2026, 11, 23, tzinfo=timezone.utc))
    raw = events.encode(events.new_event(order, source="test", subject="c-1"))
    wire = json.loads(raw)["data"]
    assert isinstance(wire["amount"], str) and wire["amount"] == f"{amount:.2f}"
    assert wire["amount"].split(".")[1].__len__() == 2
    _, back = events.decode(raw)
    assert back.amount == amount and back.cost == cost
    assert events.OrderPlaced.model_validate(wire).model_dump(mode="json") == wire


@FAST
@given(amount=st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("-0.01"), places=2))
def test_negative_money_is_refused(amount):
    with pytest.raises(ValueError):
        events.PaymentReceived(payment_id="p", order_id="o", customer_id="c", amount=amount, paid_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
