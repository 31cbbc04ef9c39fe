"""Set-based evaluation against the real PostgreSQL: the SQL follows the rules of domain.py, windows slide,
TierChanged is staged only when the tier changes, ranking is by business unit."""

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import sqlalchemy as sa

from services.grading import domain, evaluation, tiers
from services.grading.domain import Flags, Metrics
from services.grading.policy import GradingPolicy, RanksPolicy, ScorePolicy
from shared import events
from shared.auth import Principal
from tests.grading.conftest import Feed, card, order, payment

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)
ADMIN = Principal("boss", "admin", None)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


def day(days: float) -> str:
    return (NOW - timedelta(days=days)).date().isoformat()


async def tier_events(world) -> list[dict]:
    rows = await world.rows("grading", "SELECT payload FROM outbox WHERE event_type = 'TierChanged' ORDER BY id")
    return [json.loads(r.payload) for r in rows]


async def metrics(world, customer: str):
    rows = await world.rows("grading", "SELECT * FROM grading_customer_metrics WHERE customer_id = :c", c=customer)
    return rows[0]._mapping


async def test_sql_grades_exactly_as_the_domain_rules(sessions, world):
    policy = GradingPolicy(default_policy="score")
    feed = Feed(sessions, policy)
    # a grid of customers: amount, cost, paid days after due (None = unpaid), flags
    cases = [
        ("g1", "1200000.00", "800000.00", -1, False),
        ("g2", "400000.00", "300000.00", 10, False),
        ("g3", "90000.00", None, 45, False),
        ("g4", "250000.00", "100000.00", None, False),
        ("g5", "10.00", "20.00", 0, True),
        ("g6", "700000.00", "500000.00", 3, False),
    ]
    for cid, amount, cost, paid_after_due, strategic in cases:
        await feed.apply(
            card(cid, strategic=strategic),
            order(cid, f"O-{cid}", amount, ago(100), cost=cost, due=day(60)),
        )
        if paid_after_due is not None:
            paid_at = (NOW - timedelta(days=60 - paid_after_due)).replace(hour=4)
            await feed.apply(payment(cid, f"O-{cid}", amount, paid_at.isoformat()))
    for cid, amount, cost, paid_after_due, strategic in cases:
        row = await metrics(world, cid)
        # unpaid: late by today - due, both as dates in the policy's time zone (the due date was written as a UTC date)
        today = NOW.astimezone(ZoneInfo(policy.timezone)).date()
        late = paid_after_due if paid_after_due is not None else (today - (NOW - timedelta(days=60)).date()).days
        on_time = 1.0 if late <= 0 else 0.0
        facts = Metrics(
            purchases_12m=Decimal(amount), purchases_24m=Decimal(amount),
            profit_12m=Decimal(amount) - Decimal(cost) if cost else Decimal("0.00"),
            order_count=1, on_time_ratio=on_time, avg_days_late=float(max(late, 0)),
        )
        expected_score = domain.score(facts, policy.score)
        expected = domain.by_score(ScorePolicy(), expected_score, Flags(strategic_partner=strategic))
        assert row["score"] == pytest.approx(expected_score, abs=0.01), cid
        assert (row["tier"], row["tier_reason"]) == (expected.tier, expected.reason), cid
        assert row["on_time_ratio"] == on_time and row["avg_days_late"] == max(late, 0), cid
        assert row["credit_score"] == pytest.approx(domain.credit_rating(facts, policy.score) * 100, abs=0.01)


async def test_tier_changed_is_staged_only_when_the_tier_changes_and_matches_the_contract(sessions, world):
    feed = Feed(sessions, GradingPolicy())
    await feed.apply(order("c1", "O-1", "100000.00", ago(10), cost="60000.00"))
    await feed.apply(order("c1", "O-2", "100000.00", ago(9)))  # still C: no event
    await feed.apply(order("c1", "O-3", "150000.00", ago(8)))  # 350k: B
    await feed.apply(order("c1", "O-3", "150000.00", ago(8)))  # the same order again: counted once
    found = await tier_events(world)
    assert [(e["data"]["old_tier"], e["data"]["new_tier"]) for e in found] == [(None, "C"), ("C", "B")]
    for e in found:
        jsonschema.validate(e, events.json_schema("TierChanged"))
        events.decode(json.dumps(e).encode())  # consumers can read it
    last = found[-1]["data"]
    assert last["policy"] == "thresholds"
    assert last["reason"] == "purchases_12m 350000.00 >= B threshold 300000.00, below A 1000000.00"
    assert last["metrics"]["purchases_12m"] == "350000.00" and last["metrics"]["profit_12m"] == "40000.00"
    row = await metrics(world, "c1")
    assert (row["order_count"], row["purchases_total"]) == (3, Decimal("350000.00"))
    history = await world.rows("grading", "SELECT old_tier, new_tier, metrics FROM grading_tier_history ORDER BY id")
    assert [(h.old_tier, h.new_tier) for h in history] == [(None, "C"), ("C", "B")]
    assert history[-1].metrics["purchases_12m"] == "350000.00"


async def test_orders_age_out_of_the_window_without_any_new_event(sessions, world):
    policy = GradingPolicy()
    feed = Feed(sessions, policy)
    await feed.apply(order("c1", "O-1", "1000000.00", ago(300)), order("c2", "O-2", "400000.00", ago(10)))
    assert (await metrics(world, "c1"))["tier"] == "A"
    outcome = await evaluation.recompute_all(sessions, policy=policy, now=NOW + timedelta(days=70))
    assert outcome.moved == 1
    row = await metrics(world, "c1")
    assert (row["tier"], row["purchases_12m"], row["purchases_24m"]) == ("C", Decimal("0.00"), Decimal("1000000.00"))
    assert (await metrics(world, "c2"))["tier"] == "B"
    assert [e["data"]["new_tier"] for e in await tier_events(world) if e["subject"] == "c1"] == ["A", "C"]


async def test_payment_timeliness_counts_partial_payments_and_payments_before_the_order(sessions, world):
    feed = Feed(sessions, GradingPolicy())
    due = NOW - timedelta(days=40)
    # paid in two parts, the second 5 days late; and a payment that arrives before its order, on time
    await feed.apply(payment("c1", "O-1", "60.00", (due - timedelta(days=3)).isoformat(), payment_id="P1"))
    await feed.apply(order("c1", "O-1", "100.00", ago(70), due=due.date().isoformat()))
    await feed.apply(payment("c1", "O-1", "40.00", (due + timedelta(days=5)).isoformat(), payment_id="P2"))
    await feed.apply(payment("c1", "O-2", "10.00", (due - timedelta(days=1)).isoformat(), payment_id="P3"))
    await feed.apply(order("c1", "O-2", "10.00", ago(70), due=due.date().isoformat()))
    # overdue and unpaid: late by today - due; not yet due: not counted
    await feed.apply(order("c1", "O-3", "10.00", ago(50), due=(NOW - timedelta(days=20)).date().isoformat()))
    await feed.apply(order("c1", "O-4", "10.00", ago(5), due=(NOW + timedelta(days=20)).date().isoformat()))
    row = await metrics(world, "c1")
    assert row["payments_due_12m"] == 3
    assert row["on_time_ratio"] == pytest.approx(1 / 3)
    assert row["avg_days_late"] == pytest.approx((5 + 20) / 2, abs=1)


async def test_rank_ratios_by_business_unit_and_recompute_emits_only_changes(sessions, world):
    policy = GradingPolicy(
        default_policy="pareto",
        policies={"pareto": RanksPolicy(rank_by="purchases_12m")},
    )
    feed = Feed(sessions, policy)
    for team in ("east", "west"):
        for i in range(10):
            cid = f"{team}-{i}"
            await feed.apply(card(cid, team=team), order(cid, f"O-{cid}", f"{(i + 1) * 1000}.00", ago(20)))
    first = await evaluation.recompute_all(sessions, policy=policy)
    rows = await world.rows("grading", "SELECT customer_id, tier FROM grading_customer_metrics ORDER BY customer_id")
    for team in ("east", "west"):
        got = {r.customer_id: r.tier for r in rows if r.customer_id.startswith(team)}
        assert [got[f"{team}-{i}"] for i in range(9, -1, -1)] == ["A"] * 2 + ["B"] * 3 + ["C"] * 5
    before = len(await tier_events(world))
    again = await evaluation.recompute_all(sessions, policy=policy)
    assert first.moved == 10 and again.moved == 0
    assert len(await tier_events(world)) == before
    # between rankings a new order is graded against the stored cut-offs
    await feed.apply(order("east-0", "O-big", "9000.00", ago(1)))
    assert (await metrics(world, "east-0"))["tier"] == "A"


async def test_override_wins_until_it_expires_then_the_computed_tier_returns(sessions, world):
    policy = GradingPolicy()
    feed = Feed(sessions, policy)
    await feed.apply(card("c1"), order("c1", "O-1", "10.00", ago(3)))
    async with sessions() as session, session.begin():
        await tiers.set_override(
            session, policy=policy, principal=ADMIN, customer_id="c1", tier="A", reason="key account in negotiation",
            expires_at=NOW + timedelta(hours=1),
        )
    row = await metrics(world, "c1")
    assert (row["tier"], row["computed_tier"], row["overridden"]) == ("A", "C", True)
    async with sessions() as session, session.begin():
        assert await tiers.expire_overrides(session, policy=policy, now=NOW + timedelta(minutes=30)) == 0
        assert await tiers.expire_overrides(session, policy=policy, now=NOW + timedelta(hours=2)) == 1
    row = await metrics(world, "c1")
    assert (row["tier"], row["overridden"]) == ("C", False)
    found = [(e["data"]["new_tier"], e["data"]["overridden"]) for e in await tier_events(world)]
    assert found == [("C", False), ("A", True), ("C", False)]
    audit = await world.rows("grading", "SELECT action, actor FROM grading_override_log ORDER BY id")
    assert [(a.action, a.actor) for a in audit] == [("set", "boss"), ("expired", "system")]


async def test_a_new_customer_takes_the_subjective_grade_until_it_has_orders(sessions, world):
    policy = GradingPolicy()
    feed = Feed(sessions, policy)
    await feed.apply(card("c1", rep="rep-1"))
    async with sessions() as session, session.begin():
        await tiers.set_subjective(
            session, policy=policy, principal=Principal("rep-1", "rep", "team-east"), customer_id="c1", tier="B", reason="big plans"
        )
    assert (await metrics(world, "c1"))["tier"] == "B"
    await feed.apply(order("c1", "O-1", "10.00", ago(1)))
    assert (await metrics(world, "c1"))["tier"] == "C"


async def test_customer_updated_lifts_and_an_older_snapshot_never_wins(sessions, world):
    feed = Feed(sessions, GradingPolicy())
    await feed.apply(card("c1", revision=2, strategic=True))
    await feed.apply(card("c1", revision=1, strategic=False))
    row = await metrics(world, "c1")
    assert (row["tier"], row["customer_revision"], row["tier_reason"]) == ("A", 2, "strategic partner lifts to A")


async def test_the_key_lookup_planner_setting_ends_with_the_evaluation(sessions):
    """A scoped evaluation turns sequential scans off for its own statement only: the rest of the consumer's
    transaction (further handlers of the batch) plans as configured."""
    feed = Feed(sessions, GradingPolicy())
    await feed.apply(order("c1", "O-1", "1000.00", ago(3)))
    async with sessions() as session, session.begin():
        await session.execute(sa.text("SET LOCAL enable_seqscan = on"))
        outcome = await evaluation.evaluate(session, policy=GradingPolicy(), customer_ids=["c1"], now=NOW + timedelta(days=400))
        assert outcome.updated == 1  # the order aged out of every window: metrics changed
        assert await session.scalar(sa.text("SHOW enable_seqscan")) == "on"
