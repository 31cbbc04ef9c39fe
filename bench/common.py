"""Shared bench helpers: infrastructure, timing, percentiles, result files."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline_name: str | None = None
    baseline_value: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline_value in (None, 0):
            return None
        return round(self.value / self.baseline_value, 3)


@dataclass
class Report:
    benchmark: str
    scale: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        fig = Figure(*args, **kwargs)
        self.figures.append(fig)
        return fig

    def print(self) -> None:
        print(f"\n== {self.benchmark} ({self.scale}) ==")
        print(f"{'figure':<48} {'value':>14} {'unit':<10} {'baseline':<34} {'base value':>12} {'ratio':>7}")
        for f in self.figures:
            base = f"{f.baseline_value:,.1f}" if f.baseline_value is not None else ""
            ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
            print(f"{f.name:<48} {f.value:>14,.1f} {f.unit:<10} {f.baseline_name or '':<34} {base:>12} {ratio:>7}")
        for n in self.notes:
            print(f"  note: {n}")

    def save(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{self.benchmark}.json"
        doc = {
            "benchmark": self.benchmark,
            "scale": self.scale,
            "figures": [{**asdict(f), "ratio": f.ratio} for f in self.figures],
            "notes": self.notes,
            "machine": machine(),
        }
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
        return path


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = ""
    try:
        mem = next(line.split(":", 1)[1].strip() for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory": mem, "python": platform.python_version(), "platform": platform.platform(), "when": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[k]


async def timed(n: int, call: Any) -> list[float]:
    """Latencies in ms of `n` awaited calls, after one warm-up call."""
    await call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--scale", choices=["small", "full"], default="full")
    return parser.parse_args()


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="crm-bench-"))


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def git_rev() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except Exception:
        return "unknown"
