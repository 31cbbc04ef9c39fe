"""Customers benchmark: bulk import of customer cards and search latency over them.

Figures (same run, same machine, same database):
- POST /customers/import of N cards (CSV, all-or-nothing: validation, scope, duplicate check, cards + history +
  outbox events in one transaction), in cards/s, against the database's raw insert rate: COPY of the same rows
  (same columns and card JSON) into a bare table without indexes (asyncpg copy_records_to_table).
- GET /customers searches (Chinese name substring, number substring, owner filter + keyset page 2, tier filter),
  p50/p95 ms, each against the same SQL run raw through asyncpg.
The service runs in-process (httpx ASGI transport) so figures are the service's own cost, not the network's;
the outbox relay is not running (publishing is the backbone benchmark's subject).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import time
import uuid

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.common import Report, args, percentile, workdir, timed
from services.customers.bulk import BOM
from shared import migrations
from shared.local import LocalPostgres, free_port
from shared.stack import service_database_url
from tests.harness import auth

SCALES = {"small": (5_000, 30), "full": (100_000, 100)}  # cards, requests per search figure
CITIES = ["杭州", "苏州", "宁波", "北京", "上海", "广州", "深圳", "成都", "武汉", "西安"]
WORDS = ["明远", "海联", "远航", "恒信", "华通", "金桥", "瑞丰", "鼎盛", "天成", "宏达"]
KINDS = ["机械有限公司", "贸易公司", "五金商行", "科技股份有限公司", "建材经销部"]
REPS, TEAMS = 400, 20
HEADER = ["number", "name", "owner_rep_id", "team_id", "region", "phone", "lifecycle", "basic.legal_form", "credit.payment_attitude", "credit.credit_limit", "credit.limit_approver", "credit.limit_approved_on"]


def cards(n: int) -> list[dict]:
    rng = random.Random(7)
    rows = []
    for i in range(n):
        rep = i % REPS
        rows.append({
            "number": f"CRM-2026-{i:06d}",
            "name": f"{rng.choice(CITIES)}{rng.choice(WORDS)}{rng.choice(KINDS)}{i}",
            "owner_rep_id": f"rep-{rep}", "team_id": f"team-{rep % TEAMS}", "region": rng.choice(["华东", "华北", "华南", "西南"]),
            "phone": f"0571-{8000000 + i}", "lifecycle": rng.choice(["prospect", "new", "existing"]),
            "basic.legal_form": "joint_stock", "credit.payment_attitude": rng.choice(["prompt", "normal", "delayed"]),
            "credit.credit_limit": f"{rng.randint(1, 500) * 1000}.00", "credit.limit_approver": "sales_manager", "credit.limit_approved_on": "2026-11-01",
        })
    return rows


def csv_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return (BOM + buffer.getvalue()).encode()


COPY_COLUMNS = ["customer_id", "number", "name", "owner_rep_id", "team_id", "strategic_partner", "high_potential", "lifecycle", "region", "card", "unverified", "revision", "created_at", "updated_at"]


def copy_records(rows: list[dict]) -> list[tuple]:
    """The same rows as the import writes to `customers`, for the raw COPY baseline."""
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    out = []
    for r in rows:
        card = {k: v for k, v in r.items() if "." not in k}
        card["basic"] = {"legal_form": r["basic.legal_form"]}
        card["credit"] = {k.split(".")[1]: v for k, v in r.items() if k.startswith("credit.")}
        out.append((str(uuid.uuid4()), r["number"], r["name"], r["owner_rep_id"], r["team_id"], False, False, r["lifecycle"], r["region"], json.dumps(card, ensure_ascii=False), "[]", 1, now, now))
    return out


async def run(scale: str) -> Report:
    count, requests = SCALES[scale]
    tmp = workdir()
    report = Report("customers_import", scale)
    pg = LocalPostgres(tmp / "pgdata", free_port())
    pg.start()
    try:
        url = service_database_url(pg.url, "customers", db_prefix="crm_bench_")
        await migrations.upgrade_async("customers", url)
        raw = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
        rows = cards(count)
        body = csv_bytes(rows)

        # Baseline: the database alone, COPY of the same rows into a bare table.
        await raw.execute("CREATE TABLE bare_customers (LIKE customers)")
        records = copy_records(rows)
        started = time.perf_counter()
        await raw.copy_records_to_table("bare_customers", records=records, columns=COPY_COLUMNS)
        copy_rate = count / (time.perf_counter() - started)
        await raw.execute("DROP TABLE bare_customers")

        from services.customers.app import build
        from services.customers.settings import CustomersSettings

        app = build(CustomersSettings(database_url=url))
        admin = auth()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://customers", timeout=3600) as client:
            started = time.perf_counter()
            response = await client.post("/customers/import", content=body, params={"format": "csv"}, headers=admin)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200 and response.json()["imported"] == count, response.text[:500]
            report.add(f"import {count:,} cards (CSV, one file)", count / elapsed, "cards/s", "raw COPY into bare table", copy_rate)
            report.notes.append(f"import wall time {elapsed:.1f}s for {len(body) / 1e6:.1f} MB; writes cards + history + {count:,} outbox events")

            await raw.execute("INSERT INTO customer_tiers SELECT customer_id, (ARRAY['A','B','C','C','C'])[1 + abs(hashtext(customer_id)) % 5], now() FROM customers")
            await raw.execute("ANALYZE")
            page1 = (await client.get("/customers", params={"owner_rep_id": "rep-7", "limit": 20}, headers=admin)).json()
            cursor = page1["next_cursor"]
            last = page1["items"][-1]
            rep = auth("rep-7", "rep", "team-7")
            manager = auth("mgr-3", "manager", "team-3")
            summary = "c.customer_id, c.number, c.name, c.owner_rep_id, c.team_id, c.region, c.lifecycle, c.strategic_partner, c.high_potential, c.revision, t.tier"
            base = f"SELECT {summary} FROM customers c LEFT JOIN customer_tiers t ON t.customer_id = c.customer_id WHERE "
            searches = [
                ("search name 2 chars (明远), admin", admin, {"q": "明远"}, base + "(c.name ILIKE '%明远%' OR c.number ILIKE '%明远%') ORDER BY c.name, c.customer_id LIMIT 51"),
                ("search name 4 chars (杭州明远), manager", manager, {"q": "杭州明远"}, base + "c.team_id = 'team-3' AND (c.name ILIKE '%杭州明远%' OR c.number ILIKE '%杭州明远%') ORDER BY c.name, c.customer_id LIMIT 51"),
                ("search number substring, admin", admin, {"q": "2026-0042"}, base + "(c.name ILIKE '%2026-0042%' OR c.number ILIKE '%2026-0042%') ORDER BY c.name, c.customer_id LIMIT 51"),
                ("rep's own list, keyset page 2", rep, {"owner_rep_id": "rep-7", "limit": 20, "cursor": cursor}, base + f"c.owner_rep_id = 'rep-7' AND c.team_id = 'team-7' AND (c.name, c.customer_id) > ('{last['name']}', '{last['customer_id']}') ORDER BY c.name, c.customer_id LIMIT 21"),
                ("tier A in one team, manager", manager, {"tier": "A"}, base + "c.team_id = 'team-3' AND t.tier = 'A' ORDER BY c.name, c.customer_id LIMIT 51"),
            ]
            for name, headers, params, sql in searches:
                async def api(headers=headers, params=params):
                    r = await client.get("/customers", params=params, headers=headers)
                    assert r.status_code == 200, r.text

                async def direct(sql=sql):
                    await raw.fetch(sql)

                service, baseline = await timed(requests, api), await timed(requests, direct)
                report.add(f"{name} p50", percentile(service, 50), "ms", "raw SQL p50", percentile(baseline, 50))
                report.add(f"{name} p95", percentile(service, 95), "ms", "raw SQL p95", percentile(baseline, 95))
        await app.state.runtime.engine.dispose()
        await raw.close()
        report.notes.append(f"{count:,} cards, {REPS} reps in {TEAMS} teams, Chinese names; service in-process over ASGI (auth, revocation check, scope); raw SQL via asyncpg")
    finally:
        pg.stop()
    return report


def main() -> None:
    report = asyncio.run(run(args("Customers: bulk import rate vs raw COPY; search latency vs raw SQL").scale))
    report.print()
    print(f"results: {report.save()}")


if __name__ == "__main__":
    main()
