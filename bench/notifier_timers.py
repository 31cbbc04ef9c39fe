"""Notifier timers benchmark: finding and firing due follow-ups costs what is due, not what is scheduled.

Two totals of scheduled follow-ups (full: 100,000 and 1,000,000; small: 10,000 and 100,000), the
same number due in each. For each total:
- the scheduler (services.notifier.jobs.fire_due_followups: lock customers, contact cap, FollowUpDue
  in the outbox, deliveries, in one transaction per batch) fires the due ones;
- raw SQL baseline, same run: one statement that claims due rows (FOR UPDATE SKIP LOCKED), marks
  them fired and writes their outbox rows;
- the index-only "find" query alone.
The ratio of the large total to the small one stays near 1 when the cost follows the due count.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import Report, args, percentile, workdir
from services.notifier import jobs
from services.notifier.domain import Rules
from services.notifier.policy import NotifierPolicy
from shared import migrations
from services.notifier.policy import NotifierCalendar as BusinessCalendar
from shared.db import session_factory, unit_of_work
from shared.local import LocalPostgres, free_port
from shared.stack import service_database_url

DUE = 2_000

FILL = """
INSERT INTO followups (followup_id, customer_id, rep_id, team_id, kind, due_at, fire_at, proactive)
SELECT CAST(:prefix AS text) || i, CAST(:prefix AS text) || 'c' || i, 'rep-' || (i % 500), 'team-' || (i % 20),
       CAST(:kind AS text), now() + make_interval(secs => CAST(:ahead AS int) + i), now() + make_interval(secs => CAST(:ahead AS int) + i),
       CAST(:kind AS text) = 'cadence'
FROM generate_series(1, CAST(:n AS int)) i
"""

RAW_FIRE = """
WITH due AS (
  SELECT followup_id, customer_id FROM followups
  WHERE state = 'scheduled' AND fire_at <= now() ORDER BY fire_at LIMIT 500 FOR UPDATE SKIP LOCKED
), fired AS (
  UPDATE followups f SET state = 'fired', fired_at = now() FROM due WHERE f.followup_id = due.followup_id
  RETURNING f.followup_id, f.customer_id
)
INSERT INTO outbox (event_id, topic, key, event_type, payload)
SELECT 'raw-' || followup_id, 'crm.notifications.v1', customer_id, 'FollowUpDue', convert_to(followup_id, 'UTF8') FROM fired
"""

FIND = "SELECT customer_id FROM followups WHERE state = 'scheduled' AND fire_at <= now() ORDER BY fire_at LIMIT 500"


async def fill(engine, *, n: int, prefix: str, ahead_seconds: int, kind: str = "cadence") -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text(FILL), {"prefix": prefix, "n": n, "ahead": ahead_seconds, "kind": kind})
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE followups"))  # steady state, as autovacuum keeps it


async def measure(engine, sessions, rules: Rules, label: str) -> dict:
    # D due rows for the scheduler, then D more for the raw baseline
    await fill(engine, n=DUE, prefix=f"{label}-due-", ahead_seconds=-3600 * 24)
    ticks: list[float] = []
    started = time.perf_counter()
    fired = 0
    while True:
        t0 = time.perf_counter()
        async with unit_of_work(sessions) as session:
            n = await jobs.fire_due_followups(session, rules=rules, now=datetime.now(timezone.utc))
        if not n:
            break
        ticks.append(time.perf_counter() - t0)
        fired += n
    scheduler = time.perf_counter() - started
    assert fired == DUE, (fired, DUE)

    async with engine.connect() as conn:
        finds = []
        for _ in range(20):
            t0 = time.perf_counter()
            await conn.execute(sa.text(FIND))
            finds.append(time.perf_counter() - t0)

    await fill(engine, n=DUE, prefix=f"{label}-raw-", ahead_seconds=-3600 * 24, kind="commitment")
    started = time.perf_counter()
    raw_fired = 0
    while True:
        async with engine.begin() as conn:
            n = (await conn.execute(sa.text(RAW_FIRE))).rowcount
        if not n:
            break
        raw_fired += n
    raw = time.perf_counter() - started
    assert raw_fired == DUE, (raw_fired, DUE)
    return {"scheduler_s": scheduler, "raw_s": raw, "tick_p50": percentile(ticks, 50), "tick_p95": percentile(ticks, 95), "find_p50": percentile(finds, 50)}


async def run(scale: str) -> Report:
    totals = (10_000, 100_000) if scale == "small" else (100_000, 1_000_000)
    tmp = workdir()
    server = os.environ.get("CRM_BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    pg = None
    if server is None:
        pg = LocalPostgres(tmp / "pgdata", free_port())
        pg.start()
        server = pg.url
    url = service_database_url(server, "notifier", db_prefix=f"crm_bench{int(time.time())}_")
    report = Report("notifier_timers", scale)
    try:
        await migrations.upgrade_async("notifier", url)
        engine = create_async_engine(url, pool_size=4)
        sessions = session_factory(engine)
        rules = Rules(NotifierPolicy(), BusinessCalendar())
        results = {}
        have = 0
        for total in totals:
            await fill(engine, n=total - have, prefix=f"t{total}-", ahead_seconds=86400)  # not due for a day and more
            have = total
            scheduled = total + DUE
            results[total] = r = await measure(engine, sessions, rules, f"t{total}")
            report.add(f"fire {DUE:,} due of {scheduled:,} scheduled", DUE / r["scheduler_s"], "due/s", "raw SQL claim+mark+outbox", DUE / r["raw_s"])
            report.add(f"  scheduler batch (500) latency p50, {scheduled:,}", r["tick_p50"] * 1000, "ms", "", None)
            report.add(f"  scheduler batch (500) latency p95, {scheduled:,}", r["tick_p95"] * 1000, "ms", "", None)
            report.add(f"  find-due query p50, {scheduled:,}", r["find_p50"] * 1000, "ms", "", None)
        small, large = (results[t] for t in totals)
        report.add(
            f"time to fire {DUE:,}: {totals[1]:,} vs {totals[0]:,} scheduled", large["scheduler_s"] * 1000, "ms",
            f"same, {totals[0]:,} scheduled", small["scheduler_s"] * 1000,
        )
        report.add(
            f"raw SQL time: {totals[1]:,} vs {totals[0]:,} scheduled", large["raw_s"] * 1000, "ms",
            f"same, {totals[0]:,} scheduled", small["raw_s"] * 1000,
        )
        report.notes.append(
            "a ratio near 1 in the last two rows: the cost follows the due count (partial index on fire_at WHERE state='scheduled'), not the total"
        )
        report.notes.append(
            "linear in the total would be a ratio of ~10; what remains above 1 is B-tree depth and cache misses of updating the big table's indexes"
        )
        report.notes.append("scheduler figures include the contact-cap check, FollowUpDue events in the outbox and delivery staging per follow-up")
        await engine.dispose()
        await migrations.drop_database(url)
    finally:
        if pg is not None:
            pg.stop()
    return report


def main() -> None:
    a = args("Notifier timers: due follow-ups fired at a cost proportional to what is due")
    report = asyncio.run(run(a.scale))
    report.print()
    print(f"results: {report.save()}")


if __name__ == "__main__":
    main()
