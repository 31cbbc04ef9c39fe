"""The full recompute against the real PostgreSQL: a snapshot, then chunks applied on several connections."""

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from services.grading import evaluation
from services.grading.policy import GradingPolicy, RanksPolicy
from tests.grading.conftest import Feed, card, order

pytestmark = pytest.mark.integration
NOW = datetime.now(timezone.utc)


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat()


async def test_chunked_recompute_grades_every_customer_once(sessions, world, monkeypatch):
    policy = GradingPolicy(default_policy="pareto", policies={"pareto": RanksPolicy(rank_by="purchases_12m")})
    feed = Feed(sessions, policy)
    for i in range(300):
        cid = f"c{i:03d}"
        await feed.apply(card(cid, team="east"), order(cid, f"O-{cid}", f"{(i + 1) * 1000}.00", ago(20)))
    chunks = []
    apply_chunk = evaluation._apply_chunk

    async def counted(*args, **kwargs):
        chunks.append(args[3:5])
        return await apply_chunk(*args, **kwargs)

    monkeypatch.setattr(evaluation, "_apply_chunk", counted)
    outcome = await evaluation.recompute_all(
        sessions, policy=policy, tuning=evaluation.RecomputeTuning(workers=2, chunk_customers=50)
    )
    assert len(chunks) >= 3, chunks  # several page ranges, applied two at a time
    pages = sorted(chunks)
    assert all(a[1] == b[0] for a, b in zip(pages, pages[1:])), pages  # contiguous, no page twice
    rows = await world.rows("grading", "SELECT customer_id, tier FROM grading_customer_metrics")
    assert Counter(r.tier for r in rows) == {"A": 60, "B": 90, "C": 150}
    assert outcome.moved == 150  # before the first ranking everybody was C
    found = await world.rows("grading", "SELECT payload FROM outbox WHERE event_type = 'TierChanged'")
    per_customer = Counter(json.loads(r.payload)["subject"] for r in found)
    assert sum(per_customer.values()) == 300 + 150 and max(per_customer.values()) == 2
    ids = [json.loads(r.payload)["id"] for r in found]
    assert len(set(ids)) == len(ids)
    assert not await world.rows("grading", "SELECT 1 FROM pg_class WHERE relname = 'grading_recompute_scored'")


async def test_recompute_keeps_what_an_event_graded_after_its_snapshot(sessions, world):
    policy = GradingPolicy()  # thresholds: A >= 1,000,000, B >= 300,000
    feed = Feed(sessions, policy)
    await feed.apply(order("c1", "O-1", "400000.00", ago(10)), order("c2", "O-2", "400000.00", ago(100)))
    later = evaluation.Clock(NOW + timedelta(days=300), policy.timezone)  # c2's order ages out of 12 months
    pages, rows = await evaluation._snapshot(sessions, policy, later, evaluation.RecomputeTuning())
    assert rows == 2
    # between the snapshot and its application an order lifts c1 to A
    await feed.apply(order("c1", "O-3", "700000.00", ago(1)))
    await evaluation._apply_chunk(sessions, policy, later, 0, pages)
    got = {
        r.customer_id: (r.tier, str(r.purchases_12m))
        for r in await world.rows("grading", "SELECT customer_id, tier, purchases_12m FROM grading_customer_metrics")
    }
    assert got == {"c1": ("A", "1100000.00"), "c2": ("C", "0.00")}


async def test_a_second_recompute_waits_for_none_and_reports_busy(sessions, world):
    policy = GradingPolicy()
    await Feed(sessions, policy).apply(order("c1", "O-1", "400000.00", ago(10)))
    async with sessions() as holder, holder.begin():
        await holder.execute(evaluation.sa.text(f"SELECT pg_advisory_xact_lock({evaluation.RECOMPUTE_LOCK})"))
        assert await evaluation.recompute_all(sessions, policy=policy) is None
    assert await evaluation.recompute_all(sessions, policy=policy) is not None
