"""`crm demo` against the four services as real processes: what it plans arrives through the APIs (customers,
visits, orders in grading, complaints at their target status, tiers), and a rerun with the same seed adds nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter

import httpx
import pytest
from rich.console import Console

from shared import demo
from shared.stack import ROOT
from tests.harness import ADMIN

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SEED, SIZE = 7, 30  # seed 7 plans complaints at several statuses, one escalated (checked below)


async def all_customers(client: httpx.AsyncClient, url: str) -> dict[str, str]:
    found, cursor = {}, None
    while True:
        params = {"q": f"DEMO{SEED}-", "limit": 50, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{url}/customers", params=params, headers=ADMIN)).json()
        found.update({c["number"]: c["customer_id"] for c in page["items"]})
        if not (cursor := page["next_cursor"]):
            return found


async def counts(world) -> dict[str, int]:
    tables = {"customers": "customers", "contacts": "customer_contacts", "orders": "customer_orders",
              "payments": "customer_payments", "visits": "visits", "commitments": "commitments", "history": "customer_history"}
    found = {k: await world.scalar("customers", f"SELECT count(*) FROM {t}") for k, t in tables.items()}
    found["complaints"] = await world.scalar("complaints", "SELECT count(*) FROM complaints")
    found["complaint_history"] = await world.scalar("complaints", "SELECT count(*) FROM complaint_history")
    return found


async def test_demo_fills_the_stack_and_a_rerun_adds_nothing(world):
    await world.prepare()
    procs = {name: world.start(name) for name in ("customers", "grading", "complaints", "notifier")}
    for proc in procs.values():
        await asyncio.to_thread(proc.wait_ready)
    urls = demo.Urls(**{name: proc.url for name, proc in procs.items()})
    org = demo.organization(SIZE, SEED, today=demo.datetime.now(demo.TZ).date())
    planned_complaints = [c for p in org.customers for c in p.complaints]
    assert {"closed", "escalated"} <= {c.target for c in planned_complaints}, "the seed no longer covers the workflow"

    stats = await demo.run(customers=SIZE, seed=SEED, urls=urls, concurrency=8, patience=120, console=Console(quiet=True))

    assert stats.failed == []
    assert stats.created["customers"] == SIZE and not stats.existing
    assert stats.created["orders"] == stats.planned["orders"] > SIZE
    assert stats.created["payments"] == stats.planned["payments"] > 0
    assert stats.created["complaints"] == len(planned_complaints)
    assert stats.graded and sum(stats.tiers.values()) == SIZE and set(stats.tiers) <= {"A", "B", "C"}

    async with httpx.AsyncClient(timeout=30) as client:
        customers = await all_customers(client, urls.customers)
        assert sorted(customers) == sorted(p.number for p in org.customers)
        visits, statuses = 0, Counter()
        for plan in org.customers:
            cid = customers[plan.number]
            records = (await client.get(f"{urls.customers}/customers/{cid}/visits", headers=ADMIN)).json()
            visits += len(records)
            for c in plan.complaints:  # the marker record names the complaint; the complaint reached its target
                marker = next(r for r in records if r["visit_id"] == c.marker_visit_id)
                complaint_id = demo.UUID_RE.search(marker["needs"]["description"]).group(0)
                complaint = (await client.get(f"{urls.complaints}/complaints/{complaint_id}", headers=ADMIN)).json()
                assert (complaint["customer_id"], complaint["status"]) == (cid, c.target)
                statuses[complaint["status"]] += 1
        assert visits == stats.planned["visits"] + len(planned_complaints)
        report = (await client.get(f"{urls.grading}/report", params={"limit": 1000}, headers=ADMIN)).json()
        assert sum(c["order_count"] for c in report["customers"]) == stats.planned["orders"]
        assert report["total"] == SIZE
        queue = (await client.get(f"{urls.complaints}/complaints/queue", headers=ADMIN)).json()
        assert queue["total"] == sum(n for s, n in statuses.items() if s not in ("resolved", "closed"))

    before = await counts(world)
    assert before["complaints"] == len(planned_complaints)
    # the rerun goes through the CLI, as a user would run it
    rerun = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shared.cli", "demo", "--customers", str(SIZE), "--seed", str(SEED), "--wait", "60",
         "--customers-url", urls.customers, "--grading-url", urls.grading,
         "--complaints-url", urls.complaints, "--notifier-url", urls.notifier],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert "Tier distribution" in rerun.stdout
    assert await counts(world) == before
