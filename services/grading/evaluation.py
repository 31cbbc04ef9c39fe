"""Set-based evaluation: metrics, score, policy, tier and TierChanged for many customers in one SQL statement.

The rules are those of domain.py, written as SQL so that a recompute over a
million customers runs inside PostgreSQL (no Python loop over rows). The
statement is layered:
  facts   -> windowed money and payment facts per customer (one scan of orders)
  scored  -> credit rating, 100-point score, business unit, policy name
  graded  -> computed tier and reason under the customer's policy
  final   -> override / subjective grade applied (the effective tier)
and an UPDATE of grading_customer_metrics whose RETURNING feeds the tier
history and the outbox, only for customers whose tier changed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.grading.policy import (
    GradingPolicy,
    RanksPolicy,
    ScorePolicy,
    SubjectivePolicy,
    ThresholdsPolicy,
)
from shared import topics
from shared.consumer import is_transient

SOURCE = "crm/grading"
MONEY_TEXT = "'FM9999999999999990.00'"
RECOMPUTE_LOCK = 0x6772_6164  # advisory lock: one full recompute at a time across replicas


@dataclass
class Sql:
    """Collects bind parameters while SQL text is assembled (every literal from the policy is bound)."""

    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any, sql_type: str) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"CAST(:{name} AS {sql_type})"


@dataclass(frozen=True)
class Clock:
    now: datetime
    tz: str

    @property
    def today(self) -> date:
        from zoneinfo import ZoneInfo

        return self.now.astimezone(ZoneInfo(self.tz)).date()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def cents(column: str) -> str:
    """A sum of whole cents (float8, exact below 2**53) back to money with two places."""
    return f"(coalesce({column}, 0)::int8::numeric / 100)::numeric(18, 2)"


def facts_sql(q: Sql, policy: GradingPolicy, clock: Clock, *, scoped: bool) -> str:
    """Windowed facts per customer: purchases and profit over 12/24 months, payment timeliness.

    Money is summed as whole cents (the orders' generated cent columns) in float8, so every aggregate keeps a
    by-value state: over ten million orders this halves the aggregation time against numeric sums and stays
    exact (integers below 2**53).
    The profit of an order without cost is amount x assumed_margin, rounded to the cent.
    """
    now = q.bind(clock.now, "timestamptz")
    t12, t24 = f"({now} - interval '12 months')", f"({now} - interval '24 months')"
    today = q.bind(clock.today, "date")
    d12 = f"({today} - interval '12 months')::date"
    tz = q.bind(policy.timezone, "text")
    margin = q.bind(policy.assumed_margin, "numeric")
    only = "AND o.customer_id = ANY(CAST(:ids AS text[]))" if scoped else ""
    where = "WHERE c.customer_id = ANY(CAST(:ids AS text[]))" if scoped else ""
    return f"""
    SELECT c.customer_id, c.order_count, c.customer_revision, c.strategic_partner, c.high_potential,
           c.subjective_tier, c.team_id,
           {cents("a.purchases_12m")} AS purchases_12m, {cents("a.purchases_24m")} AS purchases_24m,
           {cents("a.profit_12m")} AS profit_12m, {cents("a.profit_24m")} AS profit_24m,
           coalesce(a.payments_due_12m, 0)::int AS payments_due_12m,
           CASE WHEN a.payments_due_12m > 0 THEN a.paid_on_time::float8 / a.payments_due_12m END AS on_time_ratio,
           CASE WHEN a.paid_late > 0 THEN a.days_late::float8 / a.paid_late ELSE 0 END AS avg_days_late
    FROM grading_customer_metrics c
    LEFT JOIN (
        SELECT o.customer_id,
               sum(o.amount_cents) FILTER (WHERE o.in_12m) AS purchases_12m,
               sum(o.amount_cents) FILTER (WHERE o.in_24m) AS purchases_24m,
               sum(o.profit_cents) FILTER (WHERE o.in_12m) AS profit_12m,
               sum(o.profit_cents) FILTER (WHERE o.in_24m) AS profit_24m,
               count(*) FILTER (WHERE o.due_counted) AS payments_due_12m,
               count(*) FILTER (WHERE o.due_counted AND o.days_late <= 0) AS paid_on_time,
               count(*) FILTER (WHERE o.due_counted AND o.days_late > 0) AS paid_late,
               sum(o.days_late) FILTER (WHERE o.due_counted AND o.days_late > 0) AS days_late
        FROM (
            SELECT o.customer_id, o.amount_cents::float8 AS amount_cents,
                   coalesce(o.amount_cents - o.cost_cents, round(o.amount * {margin} * 100))::float8 AS profit_cents,
                   o.placed_at > {t12} AS in_12m, o.placed_at > {t24} AS in_24m,
                   (o.payment_due IS NOT NULL AND o.payment_due > {d12}
                    AND (o.settled_at IS NOT NULL OR o.payment_due < {today})) AS due_counted,
                   CASE WHEN o.settled_at IS NOT NULL THEN (o.settled_at AT TIME ZONE {tz})::date - o.payment_due
                        ELSE {today} - o.payment_due END AS days_late
            FROM grading_orders o
            WHERE (o.placed_at > {t24} OR o.payment_due > {d12}) {only}
        ) o
        GROUP BY o.customer_id
    ) a ON a.customer_id = c.customer_id
    {where}
    """


def scored_sql(q: Sql, policy: GradingPolicy, clock: Clock, *, scoped: bool) -> str:
    r = policy.score
    credit = (
        f"CASE WHEN f.payments_due_12m = 0 THEN {q.bind(r.credit_without_history, 'float8')} "
        f"ELSE (f.on_time_ratio + greatest(0.0, 1.0 - f.avg_days_late / {q.bind(r.zero_credit_days_late, 'float8')})) / 2 END"
    )
    amount = f"least(1.0, (f.{r.amount_measure} / {q.bind(r.amount_full_marks, 'numeric')})::float8)"
    profit = f"least(1.0, (greatest(0, f.{r.profit_measure}) / {q.bind(r.profit_full_marks, 'numeric')})::float8)"
    team_map = " ".join(f"WHEN {q.bind(t, 'text')} THEN {q.bind(u, 'text')}" for t, u in policy.team_units.items())
    unit = f"coalesce(CASE f.team_id {team_map} END, f.team_id, '')" if team_map else "coalesce(f.team_id, '')"
    unit_map = " ".join(f"WHEN {q.bind(u, 'text')} THEN {q.bind(p, 'text')}" for u, p in policy.units.items())
    default = q.bind(policy.default_policy, "text")
    policy_of = f"CASE s.unit {unit_map} ELSE {default} END" if unit_map else default
    return f"""
    SELECT s.*, {policy_of} AS policy FROM (
        SELECT f.*, x.credit,
               round(({q.bind(r.credit_weight, 'float8')} * x.credit + {q.bind(r.amount_weight, 'float8')} * {amount}
                      + {q.bind(r.profit_weight, 'float8')} * {profit})::numeric, 2)::float8 AS score,
               {unit} AS unit
        FROM ({facts_sql(q, policy, clock, scoped=scoped)}) f
        CROSS JOIN LATERAL (SELECT ({credit})::float8 AS credit) x
    ) s
    """


def _money(q: Sql, value: Decimal) -> str:
    return q.bind(f"{value:.2f}", "text")


def _lift(q: Sql, enabled: bool) -> list[tuple[str, str, str]]:
    if not enabled:
        return []
    return [
        ("s.strategic_partner", "'A'", "'strategic partner lifts to A'"),
        ("s.high_potential", "'A'", "'high growth potential lifts to A'"),
    ]


def _case(branches: list[tuple[str, str, str]], default: tuple[str, str]) -> tuple[str, str]:
    tier = "CASE " + " ".join(f"WHEN {w} THEN {t}" for w, t, _ in branches) + f" ELSE {default[0]} END"
    reason = "CASE " + " ".join(f"WHEN {w} THEN {r}" for w, _, r in branches) + f" ELSE {default[1]} END"
    return tier, reason


def grade_sql(q: Sql, p: Any, *, cutoff: str = "k") -> tuple[str, str]:
    """(tier, reason) SQL expressions of one policy over a row `s` of scored_sql (and cut-offs `k` for ranks)."""
    if isinstance(p, ThresholdsPolicy):
        v, a, b = f"s.{p.measure}", q.bind(p.a_min, "numeric"), q.bind(p.b_min, "numeric")
        text = f"to_char({v}, {MONEY_TEXT})"
        am, bm = _money(q, p.a_min), _money(q, p.b_min)
        return _case(
            _lift(q, p.flags_lift_to_a)
            + [
                (f"{v} >= {a}", "'A'", f"format('{p.measure} %s >= A threshold %s', {text}, {am})"),
                (f"{v} >= {b}", "'B'", f"format('{p.measure} %s >= B threshold %s, below A %s', {text}, {bm}, {am})"),
            ],
            ("'C'", f"format('{p.measure} %s below B threshold %s', {text}, {bm})"),
        )
    if isinstance(p, ScorePolicy):
        a, b = q.bind(p.a_min, "float8"), q.bind(p.b_min, "float8")
        text = f"to_char(s.score, 'FM990.00')"
        am, bm = q.bind(f"{p.a_min:.2f}", "text"), q.bind(f"{p.b_min:.2f}", "text")
        return _case(
            _lift(q, p.flags_lift_to_a)
            + [
                (f"s.score >= {a}", "'A'", f"format('score %s >= A score %s', {text}, {am})"),
                (f"s.score >= {b}", "'B'", f"format('score %s >= B score %s, below A %s', {text}, {bm}, {am})"),
            ],
            ("'C'", f"format('score %s below B score %s', {text}, {bm})"),
        )
    if isinstance(p, RanksPolicy):
        v = f"s.{p.rank_by}::float8"
        text = f"to_char(s.{p.rank_by}, {MONEY_TEXT if p.rank_by != 'score' else chr(39) + 'FM990.00' + chr(39)})"
        ash, bsh = q.bind(f"{p.a_share:.0%}", "text"), q.bind(f"{p.b_share:.0%}", "text")
        return _case(
            _lift(q, p.flags_lift_to_a)
            + [
                (
                    f"{v} > 0 AND {v} >= {cutoff}.a_min",
                    "'A'",
                    f"format('{p.rank_by} %s in the top %s (A cut-off %s)', {text}, {ash}, to_char({cutoff}.a_min, 'FM9999999999999990.00'))",
                ),
                (
                    f"{v} > 0 AND {v} >= {cutoff}.b_min",
                    "'B'",
                    f"format('{p.rank_by} %s in the next %s (B cut-off %s)', {text}, {bsh}, to_char({cutoff}.b_min, 'FM9999999999999990.00'))",
                ),
            ],
            ("'C'", f"format('{p.rank_by} %s below the B cut-off of the ranking', {text})"),
        )
    if isinstance(p, SubjectivePolicy):
        d = q.bind(p.default_tier, "text")
        return (
            f"coalesce(s.subjective_tier, {d})",
            f"CASE WHEN s.subjective_tier IS NOT NULL THEN 'subjective grade ' || s.subjective_tier "
            f"ELSE 'no subjective grade set; default ' || {d} END",
        )
    raise TypeError(p)


def graded_sql(q: Sql, policy: GradingPolicy, source: str, clock: Clock, *, cutoffs: str = "grading_rank_cutoffs") -> str:
    """Computed tier under each customer's policy, then the effective tier (override, subjective for new)."""
    tiers, reasons = [], []
    for name, p in policy.policies.items():
        tier, reason = grade_sql(q, p)
        n = q.bind(name, "text")
        tiers.append(f"WHEN {n} THEN {tier}")
        reasons.append(f"WHEN {n} THEN {reason}")
    now = q.bind(clock.now, "timestamptz")
    new = q.bind(policy.subjective_for_new, "boolean")
    return f"""
    SELECT g.*,
           CASE WHEN ov.tier IS NOT NULL THEN ov.tier
                WHEN {new} AND g.order_count = 0 AND g.subjective_tier IS NOT NULL THEN g.subjective_tier
                ELSE g.computed_tier END AS tier,
           CASE WHEN ov.tier IS NOT NULL THEN format('override until %s: %s',
                     to_char(ov.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), ov.reason)
                WHEN {new} AND g.order_count = 0 AND g.subjective_tier IS NOT NULL
                     THEN format('subjective grade %s for a new customer without orders', g.subjective_tier)
                ELSE g.computed_reason END AS reason,
           ov.tier IS NOT NULL AS overridden
    FROM (
        SELECT s.*, CASE s.policy {' '.join(tiers)} END AS computed_tier,
               CASE s.policy {' '.join(reasons)} END AS computed_reason
        FROM ({source}) s
        LEFT JOIN {cutoffs} k ON k.policy = s.policy AND k.business_unit = s.unit
    ) g
    LEFT JOIN grading_overrides ov ON ov.customer_id = g.customer_id AND ov.expires_at > {now}
    """


def apply_sql(q: Sql, graded: str, clock: Clock, *, snapshot: bool = False) -> str:
    """Write metrics and tier; for customers whose tier changed, append history and stage TierChanged.

    With `snapshot` the graded rows come from a snapshot taken at `clock.now` (a full recompute): a row that
    an event has re-evaluated since (new orders, a newer card, a later evaluation) is fresher and kept.
    """
    now = q.bind(clock.now, "timestamptz")
    fresher = (
        f"AND c.order_count = e.order_count AND c.customer_revision = e.customer_revision "
        f"AND (c.evaluated_at IS NULL OR c.evaluated_at <= {now})"
        if snapshot
        else ""
    )
    topic = q.bind(topics.GRADING, "text")
    source_json = q.bind(json.dumps(SOURCE), "text")
    # event ids: a time-ordered nonce of this statement (16 hex digits: milliseconds, then random bits) and a
    # digest of the customer (one event per customer here), so a statement's ids land side by side in the
    # outbox's unique index. gen_random_uuid() would read the kernel's random source once per row.
    nonce = q.bind(f"{time.time_ns() // 1_000_000:012x}{secrets.randbits(16):04x}", "text")
    now_json = q.bind(json.dumps(rfc3339(clock.now)), "text")
    metrics_cols = (
        "purchases_12m", "purchases_24m", "profit_12m", "profit_24m", "payments_due_12m", "on_time_ratio", "avg_days_late",
    )
    sets = ", ".join(f"{c} = e.{c}" for c in metrics_cols)
    return f"""
    WITH e AS ({graded}),
    changed AS (
        UPDATE grading_customer_metrics c SET {sets},
               credit_score = round((e.credit * 100)::numeric, 2)::float8, score = e.score,
               business_unit = e.unit, policy = e.policy, computed_tier = e.computed_tier,
               previous_tier = c.tier, tier = e.tier, tier_reason = e.reason, overridden = e.overridden,
               tier_effective_at = CASE WHEN c.tier IS DISTINCT FROM e.tier THEN {now} ELSE c.tier_effective_at END,
               evaluated_at = {now}
        FROM e
        WHERE c.customer_id = e.customer_id {fresher}
          AND (c.tier, c.tier_reason, c.policy, c.score, c.purchases_12m, c.purchases_24m, c.profit_12m, c.profit_24m,
               c.on_time_ratio, c.avg_days_late, c.payments_due_12m, c.business_unit, c.overridden)
              IS DISTINCT FROM
              (e.tier, e.reason, e.policy, e.score, e.purchases_12m, e.purchases_24m, e.profit_12m, e.profit_24m,
               e.on_time_ratio, e.avg_days_late, e.payments_due_12m, e.unit, e.overridden)
        RETURNING c.*
    ),
    history AS (
        INSERT INTO grading_tier_history (customer_id, old_tier, new_tier, policy, reason, overridden, metrics, effective_at)
        SELECT customer_id, previous_tier, tier, policy, tier_reason, overridden,
               jsonb_build_object('purchases_12m', purchases_12m::text, 'purchases_24m', purchases_24m::text,
                                  'profit_12m', profit_12m::text, 'profit_24m', profit_24m::text,
                                  'order_count', order_count, 'on_time_ratio', on_time_ratio,
                                  'avg_days_late', avg_days_late, 'payments_due_12m', payments_due_12m,
                                  'credit_score', credit_score, 'score', score,
                                  'business_unit', business_unit, 'computed_tier', computed_tier),
               {now}
        FROM changed WHERE previous_tier IS DISTINCT FROM tier
    ),
    staged AS (
        INSERT INTO outbox (event_id, topic, key, event_type, payload)
        SELECT event_id, {topic}, customer_id, 'TierChanged', convert_to(
            '{{"specversion":"1.0","id":"' || event_id || '","source":' || {source_json} || ',"type":"TierChanged","subject":'
            || to_json(customer_id)::text || ',"time":' || {now_json} || ',"datacontenttype":"application/json","data":{{'
            || '"customer_id":' || to_json(customer_id)::text
            || ',"old_tier":' || coalesce('"' || previous_tier || '"', 'null') || ',"new_tier":"' || tier || '"'
            || ',"policy":' || to_json(policy)::text || ',"reason":' || to_json(tier_reason)::text
            || ',"overridden":' || overridden::text
            || ',"metrics":{{"purchases_12m":"' || purchases_12m::text || '","profit_12m":"' || profit_12m::text
            || '","credit_score":' || credit_score::text || ',"score":' || score::text || '}}'
            || ',"effective_at":' || {now_json} || '}}}}', 'UTF8')
        FROM (SELECT *, ({nonce} || left(md5({nonce} || customer_id), 16))::uuid::text AS event_id FROM changed WHERE previous_tier IS DISTINCT FROM tier) m
    )
    SELECT count(*) AS updated, count(*) FILTER (WHERE previous_tier IS DISTINCT FROM tier) AS moved FROM changed
    """


# Creates the missing rows and locks all of them (an ON CONFLICT DO UPDATE locks a row even when its WHERE is
# false), so no other transaction changes a customer between reading its facts and writing its tier.
LOCK_CUSTOMERS = sa.text(
    """
    INSERT INTO grading_customer_metrics AS m (customer_id)
    SELECT DISTINCT unnest(CAST(:customer_id AS text[])) ORDER BY 1
    ON CONFLICT (customer_id) DO UPDATE SET customer_id = m.customer_id WHERE false
    """
)


@dataclass(frozen=True)
class Outcome:
    updated: int  # customers whose metrics or tier changed
    moved: int  # customers whose tier changed (TierChanged staged)
    snapshot_seconds: float = 0.0  # full recompute only: facts, scores and cut-offs of everybody
    apply_seconds: float = 0.0  # full recompute only: grading and writing the chunks


async def evaluate(session: AsyncSession, *, policy: GradingPolicy, customer_ids: list[str], now: datetime | None = None) -> Outcome:
    """Re-grade these customers (after their events); rank policies use the cut-offs of the last ranking."""
    if not customer_ids:
        return Outcome(0, 0)
    clock = Clock(now or datetime.now(timezone.utc), policy.timezone)
    q = Sql()
    graded = graded_sql(q, policy, scored_sql(q, policy, clock, scoped=True), clock)
    q.params["ids"] = sorted(set(customer_ids))  # a stable order keeps row locks in one order across writers
    # A scoped evaluation touches at most a batch of customers: it looks them and their orders up by key. With
    # statistics lagging behind a growing table the planner would scan every order and metrics row instead
    # (measured: 14.3k -> 17.2k OrderPlaced/s in the ingest harness). Set for this statement only.
    previous = await session.scalar(SCOPED_PLANNER_ON)
    row = (await session.execute(sa.text(apply_sql(q, graded, clock)), q.params)).one()
    await set_local(session, {"enable_seqscan": previous})
    return Outcome(row.updated, row.moved)


# Turns sequential scans off for the transaction and returns the value it had (read before it is changed).
SCOPED_PLANNER_ON = sa.text(
    "WITH prev AS MATERIALIZED (SELECT current_setting('enable_seqscan') AS v) "
    "SELECT v FROM prev WHERE set_config('enable_seqscan', 'off', true) IS NOT NULL"
)


SNAPSHOT_TABLE = "grading_recompute_scored"  # unlogged, lives for one recompute (under RECOMPUTE_LOCK)


# Planner settings of the one aggregation over every order: a hash aggregate over a sequential scan, never an
# index walk; two workers aggregate and the leader only gathers and merges (with three processes on two cores,
# every partial hash table of a million customers is built once more and merged once more).
WHOLE_TABLE_PLANNER = {"enable_indexscan": "off", "enable_bitmapscan": "off", "parallel_leader_participation": "off"}
# A chunk joins its snapshot rows to their metrics rows by primary key, never by scanning them all.
CHUNK_PLANNER = {"work_mem": "64MB", "enable_hashjoin": "off", "enable_mergejoin": "off"}


async def set_local(session: AsyncSession, settings: dict[str, str]) -> None:
    """Planner settings for the current transaction only."""
    for name, value in settings.items():
        await session.execute(sa.text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})


@dataclass(frozen=True)
class RecomputeTuning:
    workers: int = 2  # connections applying chunks at once
    chunk_customers: int = 50_000  # customers per transaction while applying
    work_mem: str = "256MB"  # for the one aggregation over every order (hash tables stay in memory)


async def recompute_all(
    sessions: async_sessionmaker[AsyncSession],
    *,
    policy: GradingPolicy,
    now: datetime | None = None,
    tuning: RecomputeTuning = RecomputeTuning(),
) -> Outcome | None:
    """Re-rank and re-grade every customer in set-based SQL. None if another recompute holds the lock.

    1. snapshot: one aggregation over all orders writes facts and scores of every customer to an unlogged
       table and stores the rank cut-offs (one transaction);
    2. apply: the snapshot is graded and written in chunks of about `chunk_customers` (a page range of the
       snapshot each), `workers` transactions at a time, so the work uses every core and ingest is never
       blocked behind a million row locks. A chunk commits metrics, tier history and TierChanged together;
       a customer re-evaluated by an event since the snapshot keeps the fresher result.
    """
    clock = Clock(now or datetime.now(timezone.utc), policy.timezone)
    async with sessions() as guard, guard.begin():  # holds the lock for the whole run, does nothing else
        if not await guard.scalar(sa.text(f"SELECT pg_try_advisory_xact_lock({RECOMPUTE_LOCK})")):
            return None
        try:
            started = time.perf_counter()
            pages, rows = await _snapshot(sessions, policy, clock, tuning)
            snapshot_done = time.perf_counter()
            chunks = max(1, min(pages, -(-rows // tuning.chunk_customers)))
            if rows >= 2 * tuning.workers * 1000:
                chunks = max(chunks, min(pages, tuning.workers))
            bounds = [pages * k // chunks for k in range(chunks + 1)]
            gate = asyncio.Semaphore(tuning.workers)

            async def chunk(lo: int, hi: int) -> Outcome:
                async with gate:
                    return await _apply_chunk(sessions, policy, clock, lo, hi)

            outcomes = await asyncio.gather(*(chunk(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo))
        finally:
            async with sessions() as session, session.begin():
                await session.execute(sa.text(f"DROP TABLE IF EXISTS {SNAPSHOT_TABLE}"))
    return Outcome(
        sum(o.updated for o in outcomes), sum(o.moved for o in outcomes),
        snapshot_seconds=snapshot_done - started, apply_seconds=time.perf_counter() - snapshot_done,
    )


async def _snapshot(
    sessions: async_sessionmaker[AsyncSession], policy: GradingPolicy, clock: Clock, tuning: RecomputeTuning
) -> tuple[int, int]:
    """Facts and scores of every customer into the snapshot table, and the rank cut-offs. -> (pages, rows)."""
    async with sessions() as session, session.begin():
        await set_local(session, {"work_mem": tuning.work_mem, **WHOLE_TABLE_PLANNER})
        await session.execute(sa.text(f"DROP TABLE IF EXISTS {SNAPSHOT_TABLE}"))
        q = Sql()
        await session.execute(
            sa.text(f"CREATE UNLOGGED TABLE {SNAPSHOT_TABLE} AS {scored_sql(q, policy, clock, scoped=False)}"), q.params
        )
        await session.execute(sa.text(f"ANALYZE {SNAPSHOT_TABLE}"))
        await store_rank_cutoffs(session, policy=policy, source=SNAPSHOT_TABLE, now=clock.now)
        row = (
            await session.execute(
                sa.text(
                    f"SELECT pg_relation_size('{SNAPSHOT_TABLE}') / current_setting('block_size')::int AS pages, "
                    f"(SELECT count(*) FROM {SNAPSHOT_TABLE}) AS rows"
                )
            )
        ).one()
    return int(row.pages), int(row.rows)


async def _apply_chunk(
    sessions: async_sessionmaker[AsyncSession], policy: GradingPolicy, clock: Clock, lo: int, hi: int, attempts: int = 5
) -> Outcome:
    """Grade and write the snapshot rows on pages [lo, hi); a deadlock with an event handler is retried."""
    source = f"SELECT * FROM {SNAPSHOT_TABLE} WHERE ctid >= '({lo},0)'::tid AND ctid < '({hi},0)'::tid"
    for attempt in range(attempts):
        try:
            async with sessions() as session, session.begin():
                await set_local(session, CHUNK_PLANNER)
                q = Sql()
                graded = graded_sql(q, policy, source, clock)
                row = (await session.execute(sa.text(apply_sql(q, graded, clock, snapshot=True)), q.params)).one()
                return Outcome(row.updated, row.moved)
        except Exception as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            await asyncio.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def cutoffs_sql(q: Sql, name: str, p: RanksPolicy, source: str) -> str:
    """Per business unit: the value at rank k_a = ceil(n x a_share) and at k_b = ceil(n x (a_share + b_share)).

    percentile_disc(f) picks the value at position ceil(f x n) of one sorted column; f = (k - 0.5) / n lands on
    position k exactly whatever the float rounding, and a rank of 0 (nobody in the tier) gives NULL. The value
    at a rank does not depend on how ties are ordered. Sorting one float column per unit this way takes a
    quarter of the time of numbering every row with a window function.
    """
    a = q.bind(str(p.a_share), "numeric")
    ab = q.bind(str(Decimal(str(p.a_share)) + Decimal(str(p.b_share))), "numeric")
    return f"""
    WITH ranked AS (SELECT s.unit, s.{p.rank_by}::float8 AS v FROM ({source}) s WHERE s.policy = {q.bind(name, 'text')}),
    sizes AS (SELECT unit, count(*) AS n, ceil(count(*) * {a}) AS ka, ceil(count(*) * {ab}) AS kb FROM ranked GROUP BY unit)
    SELECT z.unit AS business_unit, z.n::int AS population,
           percentile_disc(CASE WHEN z.ka >= 1 THEN ((z.ka - 0.5) / z.n)::float8 END) WITHIN GROUP (ORDER BY r.v DESC) AS a_min,
           percentile_disc(CASE WHEN z.kb >= 1 THEN ((z.kb - 0.5) / z.n)::float8 END) WITHIN GROUP (ORDER BY r.v DESC) AS b_min
    FROM ranked r JOIN sizes z ON z.unit = r.unit
    GROUP BY z.unit, z.n, z.ka, z.kb
    """


async def store_rank_cutoffs(session: AsyncSession, *, policy: GradingPolicy, source: str, now: datetime) -> None:
    for name, p in policy.policies.items():
        if not isinstance(p, RanksPolicy):
            continue
        q = Sql()
        select = cutoffs_sql(q, name, p, f"SELECT * FROM {source}")
        q.params.update(pname=name, now=now)
        await session.execute(sa.text("DELETE FROM grading_rank_cutoffs WHERE policy = :pname"), {"pname": name})
        await session.execute(
            sa.text(
                "INSERT INTO grading_rank_cutoffs (policy, business_unit, population, a_min, b_min, ranked_at) "
                f"SELECT CAST(:pname AS text), business_unit, population, a_min, b_min, CAST(:now AS timestamptz) FROM ({select}) c"
            ),
            q.params,
        )
