"""Complaints benchmark: the priority queue and the delay report with many open complaints.

Figures (same run, same machine, same database):
- GET /complaints/queue (admin: all open; manager: one team; at-risk filter), p50/p95 and requests/s
- GET /reports/delays (JSON), p50/p95
each against a raw-SQL baseline (asyncpg, hand-written SQL returning the same rows) measured in the run.
The service runs in-process (httpx ASGI transport) so the figures are the service's own cost, not the network's.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.common import Report, args, mean, percentile, workdir, timed
from shared import migrations
from shared.local import LocalPostgres, free_port
from shared.stack import service_database_url
from tests.harness import auth

SCALES = {"small": (10_000, 30), "full": (100_000, 100)}  # open complaints, requests per figure
POLICY = '[complaints]\nclock = "calendar"\n'

SEED = """
INSERT INTO complaints (complaint_id, customer_id, team_id, handler_id, filed_by, status, tier, sla_tier, clock,
    received_at, complainant_name, channel, content, summary, cause_category,
    first_response_due_at, at_risk_at, due_at, filed_due_at, paused_since, resolved_at, within_sla)
SELECT 'c-' || i, 'cust-' || (i % 20000), 'team-' || (i % 20), 'rep-' || (i % 400), 'rep-' || (i % 400),
    CASE WHEN i > $1 THEN 'closed' WHEN i % 20 = 0 THEN 'communicated' ELSE (ARRAY['received','analyzing','solution_proposed','executing'])[1 + i % 4] END,
    t.tier, t.tier, 'calendar', r.received_at, '客户', 'phone', '投诉内容', '投诉摘要',
    (ARRAY[NULL,'our_explanation','promise_not_kept','attitude','customer_mistake','product_defect','logistics_supply'])[1 + i % 7],
    r.received_at + interval '4 hours', r.received_at + t.days * interval '18 hours', r.received_at + t.days * interval '1 day',
    r.received_at + t.days * interval '1 day',
    CASE WHEN i <= $1 AND i % 20 = 0 THEN r.received_at + interval '1 day' END,
    CASE WHEN i > $1 THEN r.received_at + (i % 6) * interval '1 day' END,
    CASE WHEN i > $1 THEN (i % 6) <= t.days END
FROM generate_series(1, $2) AS i,
LATERAL (SELECT (ARRAY['A','B','C'])[1 + (i * 7) % 3] AS tier, 3 + (i * 7) % 3 AS days) AS t,
LATERAL (SELECT now() - (i % 8640) * interval '1 minute' * 1.0 AS received_at) AS r
"""

RAW_QUEUE = """
SELECT complaint_id, customer_id, sla_tier, status, team_id, handler_id, summary, received_at, due_at, at_risk_at, paused_since
FROM complaints
WHERE status NOT IN ('resolved', 'closed') {scope}
ORDER BY sla_tier, CASE WHEN paused_since IS NULL THEN due_at - $1 ELSE due_at - paused_since END, received_at, complaint_id
LIMIT 50
"""
RAW_COUNT = "SELECT count(*) FROM complaints WHERE status NOT IN ('resolved', 'closed') {scope}"
RAW_REPORT = [
    """SELECT sla_tier, handler_id, team_id, coalesce(cause_category, 'not_analyzed'),
         count(*) FILTER (WHERE coalesce(paused_since, $1) < due_at), count(*) FILTER (WHERE coalesce(paused_since, $1) >= due_at)
       FROM complaints WHERE status NOT IN ('resolved', 'closed') AND coalesce(paused_since, $1) >= at_risk_at
       GROUP BY GROUPING SETS ((sla_tier), (handler_id), (team_id), (coalesce(cause_category, 'not_analyzed')))""",
    """SELECT sla_tier, count(*), count(*) FILTER (WHERE within_sla), avg(extract(epoch FROM resolved_at - received_at))
       FROM complaints WHERE resolved_at IS NOT NULL GROUP BY sla_tier""",
    """SELECT complaint_id, customer_id, sla_tier, status, team_id, handler_id, cause_category, received_at, due_at,
         extract(epoch FROM coalesce(paused_since, $1) - due_at)
       FROM complaints WHERE status NOT IN ('resolved', 'closed') AND coalesce(paused_since, $1) >= at_risk_at
       ORDER BY sla_tier, due_at, complaint_id LIMIT 200""",
]


def add(report: Report, name: str, service: list[float], baseline_name: str, raw: list[float]) -> None:
    report.add(f"{name} p50", percentile(service, 50), "ms", f"{baseline_name} p50", percentile(raw, 50))
    report.add(f"{name} p95", percentile(service, 95), "ms", f"{baseline_name} p95", percentile(raw, 95))
    report.add(f"{name} throughput", 1000 / mean(service), "req/s", f"{baseline_name} throughput", 1000 / mean(raw))


async def run(scale: str) -> Report:
    open_count, requests = SCALES[scale]
    tmp = workdir()
    report = Report("complaints_queue", scale)
    pg = LocalPostgres(tmp / "pgdata", free_port())
    pg.start()
    try:
        url = service_database_url(pg.url, "complaints", db_prefix="crm_bench_")
        await migrations.upgrade_async("complaints", url)
        raw = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
        resolved = open_count // 4
        await raw.execute(SEED, open_count, open_count + resolved)
        await raw.execute("ANALYZE complaints")

        policy = Path(tmp) / "policy.toml"
        policy.write_text(POLICY)
        os.environ["CRM_POLICY_FILE"] = str(policy)
        from services.complaints.app import build
        from services.complaints.settings import ComplaintsSettings

        app = build(ComplaintsSettings(database_url=url))
        admin, manager = auth(), auth("mgr-3", "manager", "team-3")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://complaints") as client:

            def get(path, headers, **params):
                async def call():
                    response = await client.get(path, params=params, headers=headers)
                    assert response.status_code == 200, response.text
                return call

            def sql(statements, scope=""):
                async def call():
                    moment = datetime.now(timezone.utc)
                    for statement in statements:
                        text = statement.format(scope=scope)
                        await raw.fetch(text, *([moment] if "$1" in text else []))
                return call

            team = "AND (team_id = 'team-3' OR escalated_to = 'team-3')"
            add(report, f"queue, admin, {open_count:,} open", await timed(requests, get("/complaints/queue", admin)),
                "raw SQL queue+count", await timed(requests, sql([RAW_QUEUE, RAW_COUNT])))
            add(report, "queue, manager (one team of 20)", await timed(requests, get("/complaints/queue", manager)),
                "raw SQL queue+count, team", await timed(requests, sql([RAW_QUEUE, RAW_COUNT], team)))
            at_risk = "AND coalesce(paused_since, $1) >= at_risk_at AND coalesce(paused_since, $1) < due_at"
            add(report, "queue, admin, sla_status=at_risk", await timed(requests, get("/complaints/queue", admin, sla_status="at_risk")),
                "raw SQL queue+count, at risk", await timed(requests, sql([RAW_QUEUE, RAW_COUNT], at_risk)))
            add(report, "delay report (JSON), admin", await timed(requests, get("/reports/delays", admin)),
                "raw SQL report", await timed(requests, sql(RAW_REPORT)))
        await app.state.runtime.engine.dispose()
        await raw.close()
        report.notes.append(f"{open_count:,} open + {resolved:,} closed complaints; 3 tiers, 20 teams, 400 handlers; "
                            "service in-process over ASGI; raw SQL via asyncpg on the same database")
    finally:
        pg.stop()
    return report


def main() -> None:
    report = asyncio.run(run(args("Complaints: queue and delay-report latency vs raw SQL").scale))
    report.print()
    print(f"results: {report.save()}")


if __name__ == "__main__":
    main()
