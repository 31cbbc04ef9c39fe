"""Grading full recompute benchmark: re-rank (rank ratios on score, per business unit) and re-grade every customer.

Figures (same run, same machine):
- first full recompute (every customer gets a tier: history + TierChanged outbox rows)
- second full recompute (nothing moved: no writes, no events)
- a third one 30 days later (windows slid: some customers move)
  all vs the raw SQL aggregate alone (sum of orders per customer, no grading, same planner settings)
- memory peak of the PostgreSQL server processes and of this process during the recompute
Data: small 10k customers / 100k orders, full 1M customers / 10M orders, generated in SQL.
"""

from __future__ import annotations

import asyncio
import resource
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import psutil
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import Report, args, workdir
from services.grading import evaluation
from services.grading.policy import GradingPolicy, RanksPolicy
from shared import migrations
from shared.db import session_factory
from shared.stack import service_database_url
from tests.harness import start_infrastructure

SIZES = {"small": (10_000, 100_000), "full": (1_000_000, 10_000_000)}
GENERATE = [
    """
    INSERT INTO grading_customer_metrics (customer_id, team_id, owner_rep_id, strategic_partner, customer_revision)
    SELECT 'c-' || i, 'team-' || (i % 20), 'rep-' || (i % 400), i % 997 = 0, 1 FROM generate_series(1, :customers) i
    """,
    """
    INSERT INTO grading_orders (order_id, customer_id, amount, cost, placed_at, payment_due, paid_amount, settled_at)
    SELECT 'o-' || j, 'c-' || (1 + (hashint % :customers)), amt, round(amt * 0.7, 2), placed,
           (placed + interval '30 days')::date, amt,
           CASE WHEN j % 5 = 0 THEN NULL ELSE placed + (((j % 50) - 10) || ' days')::interval + interval '30 days' END
    FROM (
        SELECT j, abs(hashint4(j)) AS hashint, round((100 + (abs(hashint4(j * 7)) % 200000))::numeric, 2) AS amt,
               now() - ((abs(hashint4(j * 13)) % 730) || ' days')::interval AS placed
        FROM generate_series(1, :orders) j
    ) g
    """,
    """
    UPDATE grading_customer_metrics c SET order_count = a.n, purchases_total = a.total
    FROM (SELECT customer_id, count(*) n, sum(amount) total FROM grading_orders GROUP BY customer_id) a
    WHERE a.customer_id = c.customer_id
    """,
    "ANALYZE grading_orders",
    "ANALYZE grading_customer_metrics",
]


class MemoryPeak:
    """Samples the summed RSS of the PostgreSQL server processes while a block runs."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        if self.pid is None:
            return
        root = psutil.Process(self.pid)
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                infos = [p.memory_info() for p in procs if p.is_running()]
                # private memory of every server process, plus the shared buffers once (RSS sums would count them N times)
                used = sum(i.rss - i.shared for i in infos) + max((i.shared for i in infos), default=0)
                self.peak = max(self.peak, used)
            except psutil.Error:
                pass
            self._stop.wait(0.1)

    def __enter__(self) -> MemoryPeak:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def run(scale: str) -> Report:
    customers, orders = SIZES[scale]
    report = Report("grading_recompute", scale)
    infra = start_infrastructure(workdir())
    try:
        url = service_database_url(infra.database_url, "grading", db_prefix=f"crm_b{uuid.uuid4().hex[:6]}_")
        await migrations.upgrade_async("grading", url)
        engine = create_async_engine(url)
        started = time.perf_counter()
        async with engine.begin() as conn:
            for sql in GENERATE:
                await conn.execute(sa.text(sql), {"customers": customers, "orders": orders})
        # a live database is vacuumed by autovacuum and checkpointed; a fresh bulk load is neither
        async with create_async_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(sa.text("VACUUM ANALYZE grading_orders"))
            await conn.execute(sa.text("VACUUM ANALYZE grading_customer_metrics"))
            await conn.execute(sa.text("CHECKPOINT"))  # the load's WAL is not the recompute's to pay for
        report.notes.append(
            f"{customers:,} customers, {orders:,} orders generated and vacuumed in {time.perf_counter() - started:.1f}s (not counted)"
        )

        # the database alone: one aggregate over all orders, with the planner settings the recompute uses
        started = time.perf_counter()
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            await evaluation.set_local(
                session, {"work_mem": evaluation.RecomputeTuning().work_mem, **evaluation.WHOLE_TABLE_PLANNER}
            )
            await session.execute(sa.text("SELECT customer_id, sum(amount) FROM grading_orders GROUP BY customer_id"))
        raw = time.perf_counter() - started

        policy = GradingPolicy(default_policy="pareto", policies={"pareto": RanksPolicy(rank_by="score")})
        pg_pid = infra.local_postgres.proc.pid if infra.local_postgres and infra.local_postgres.proc else None
        timings = []
        now = datetime.now(timezone.utc)
        for later in (timedelta(0), timedelta(0), timedelta(days=30)):
            with MemoryPeak(pg_pid) as memory:
                started = time.perf_counter()
                outcome = await evaluation.recompute_all(sessions, policy=policy, now=now + later)
                timings.append((time.perf_counter() - started, outcome, memory))
        (first, out1, mem1), (second, out2, mem2), (third, out3, mem3) = timings
        report.add("full recompute, first (all tiers assigned)", first, "s", "raw SQL sum per customer", raw)
        report.add("full recompute, again (nothing moved)", second, "s", "raw SQL sum per customer", raw)
        report.add("full recompute, 30 days later (windows slid)", third, "s", "raw SQL sum per customer", raw)
        for label, (_, out, _) in zip(("first", "again", "30 days later"), timings):
            report.notes.append(f"{label}: snapshot (aggregate, score, cut-offs) {out.snapshot_seconds:.1f}s, apply {out.apply_seconds:.1f}s")
        report.add("customers re-ranked per second (first)", customers / first, "customers/s")
        report.add("PostgreSQL memory peak (private + shared once)", max(mem1.peak, mem2.peak, mem3.peak) / 2**20, "MiB")
        report.add("bench process RSS peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "MiB")
        async with engine.connect() as conn:
            tiers = dict((await conn.execute(sa.text("SELECT tier, count(*) FROM grading_customer_metrics GROUP BY 1 ORDER BY 1"))).all())
        report.notes.append(
            f"TierChanged staged: first {out1.moved:,}; again {out2.moved:,}; 30 days later {out3.moved:,} "
            f"({out3.updated:,} metrics rows changed); tiers now {tiers}"
        )
        await engine.dispose()
    finally:
        infra.close()
    return report


def main() -> None:
    opts = args(__doc__.splitlines()[0])
    report = asyncio.run(run(opts.scale))
    report.print()
    print(f"saved {report.save()}")


if __name__ == "__main__":
    main()
