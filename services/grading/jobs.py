"""Scheduled work: windows slide with time (full re-evaluation) and overrides expire, even when no event arrives."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from services.grading import evaluation, tiers
from services.grading.policy import GradingPolicy
from shared.consumer import is_transient
from shared.db import unit_of_work
from shared.service import Runtime

log = structlog.get_logger(__name__)


async def recompute(runtime: Runtime, policy: GradingPolicy) -> dict:
    started = time.perf_counter()
    outcome = await evaluation.recompute_all(runtime.sessions, policy=policy)
    if outcome is None:
        return {"status": "busy", "message": "another recompute is running"}
    runtime.relay.wake()
    seconds = round(time.perf_counter() - started, 3)
    log.info(
        "recomputed all tiers", updated=outcome.updated, moved=outcome.moved, seconds=seconds,
        snapshot_seconds=round(outcome.snapshot_seconds, 3), apply_seconds=round(outcome.apply_seconds, 3),
    )
    return {"status": "done", "updated": outcome.updated, "tier_changes": outcome.moved, "seconds": seconds}


def every(seconds: float, work: Callable[[Runtime], Awaitable[object]], name: str) -> Callable[[Runtime], Awaitable[None]]:
    async def job(runtime: Runtime) -> None:
        while True:
            try:
                await work(runtime)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round retries; a failing round must not end the schedule
                log.warning(f"{name} failed; will retry", error=repr(exc), transient=is_transient(exc))
            await asyncio.sleep(seconds)

    job.__name__ = name
    return job


def scheduled(policy: GradingPolicy) -> list[Callable[[Runtime], Awaitable[None]]]:
    async def expire(runtime: Runtime) -> None:
        async with unit_of_work(runtime.sessions) as session:
            expired = await tiers.expire_overrides(session, policy=policy)
        if expired:
            runtime.relay.wake()
            log.info("overrides expired", customers=expired)

    async def slide(runtime: Runtime) -> None:
        await recompute(runtime, policy)

    return [
        every(policy.expiry_check_every.total_seconds(), expire, "expire_overrides"),
        every(policy.recompute_every.total_seconds(), slide, "scheduled_recompute"),
    ]
