"""`crm`: run the stack, one service, migrations, topics, schemas, tests."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from services.customers.cli import app as customers_cli
from shared.stack import ROOT, SERVICES, Stack

app = typer.Typer(help="Event-driven CRM backend: customers, grading, complaints, notifier.", no_args_is_help=True)
app.add_typer(customers_cli, name="customers")
console = Console()
SCHEMA_DIR = ROOT / "shared" / "schemas"
DEFAULT_DATA = ROOT / ".crm"


def _build(service: str):  # type: ignore[no-untyped-def]
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    return importlib.import_module(f"services.{service}.app").build


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="Where PostgreSQL data and logs live")] = DEFAULT_DATA,
    pg_port: Annotated[int, typer.Option(help="Port of the embedded PostgreSQL")] = 55432,
    broker_port: Annotated[int, typer.Option(help="Port of the local Tansu broker")] = 19092,
) -> None:
    """Start the whole stack: PostgreSQL and broker (embedded unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS
    are set), topics, migrations, the four services. Ctrl-C (or `crm down`) stops everything it started."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pid_file = data_dir / "stack.pid"
    running = _running_stack(pid_file)
    if running:
        console.print(f"[red]a stack is already running (pid {running}); `./crm down` stops it[/red]")
        raise typer.Exit(1)
    stack = Stack(
        data_dir=data_dir,
        database_url=os.environ.get("DATABASE_URL"),
        kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        pg_port=pg_port,
        broker_port=broker_port,
    )
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    try:
        pid_file.write_text(str(os.getpid()))
        with console.status("starting PostgreSQL and the broker"):
            stack.start_infrastructure()
        with console.status("migrating"):
            stack.migrate()
        with console.status("starting services"):
            stack.start_services()
        console.print(f"[green]CRM stack ready in {time.monotonic() - started:.1f}s[/green]")
        for name, svc in stack.services.items():
            console.print(f"  {name:<11} {svc.url}  (OpenAPI {svc.url}/docs, log {svc.log})", soft_wrap=True)
        console.print(f"PostgreSQL: {stack.database_url}\nKafka bootstrap: {stack.kafka_bootstrap}")
        console.print("Ctrl-C or `./crm down` stops everything.")
        while True:
            for name, svc in stack.services.items():
                if svc.proc and svc.proc.poll() is not None:
                    console.print(f"[red]{name} exited ({svc.proc.returncode}); restarting[/red]")
                    svc.start()
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        with console.status("stopping"):
            stack.stop()
        if _running_stack(pid_file) == os.getpid():
            pid_file.unlink()
        console.print("stopped")


def _running_stack(pid_file: Path) -> int | None:
    """The pid of a live `crm up` recorded in `pid_file`, if any."""
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


@app.command()
def down(data_dir: Annotated[Path, typer.Option()] = DEFAULT_DATA) -> None:
    """Stop a stack started by `crm up`."""
    pid_file = data_dir / "stack.pid"
    if not pid_file.exists():
        console.print("no stack running")
        raise typer.Exit(0)
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        console.print("no stack running")
        return
    for _ in range(120):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            console.print("stopped")
            return
        time.sleep(0.5)
    console.print("[red]the stack did not stop within 60 s[/red]")
    raise typer.Exit(1)


@app.command()
def serve(service: str) -> None:
    """Run one service in this process (settings from environment variables)."""
    import uvicorn

    build = _build(service)
    application = build()
    settings = application.state.runtime.settings
    uvicorn.run(
        application,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        timeout_graceful_shutdown=30,
        access_log=False,
    )


@app.command()
def migrate(services: Annotated[Optional[list[str]], typer.Argument()] = None) -> None:
    """Migrate services' databases to head (URLs from <SERVICE>_DATABASE_URL)."""
    from shared.migrations import upgrade

    for name in services or list(SERVICES):
        settings = importlib.import_module(f"services.{name}.settings")
        cls = next(v for k, v in vars(settings).items() if k.endswith("Settings") and k != "ServiceSettings")
        upgrade(name, cls().database_url)
        console.print(f"{name}: migrated")


@app.command()
def topics(
    bootstrap: Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS")] = "127.0.0.1:9092",
    partitions: int = 6,
    prefix: Annotated[str, typer.Option(envvar="CRM_TOPIC_PREFIX")] = "",
) -> None:
    """Create the contract's topics and their .dlq twins."""
    from shared.local import create_topics

    for name in asyncio.run(create_topics(bootstrap, prefix=prefix, partitions=partitions)):
        console.print(name)


@app.command()
def schemas(check: Annotated[bool, typer.Option(help="Fail if the committed schemas differ")] = False) -> None:
    """Write the JSON Schemas of every event (shared/schemas) from the models."""
    from shared.events import EVENT_TYPES, json_schema

    stale = []
    SCHEMA_DIR.mkdir(exist_ok=True)
    for event_type in EVENT_TYPES:
        path = SCHEMA_DIR / f"{event_type}.json"
        text = json.dumps(json_schema(event_type), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        console.print(f"[red]schemas out of date: {', '.join(stale)}; run `crm schemas`[/red]")
        raise typer.Exit(1)
    console.print("schemas up to date" if check else f"wrote {len(EVENT_TYPES)} schemas to {SCHEMA_DIR}")


@app.command()
def token(
    user: Annotated[str, typer.Argument(help="The user id (a rep id for reps)")],
    role: Annotated[str, typer.Option(help="rep | manager | admin")] = "rep",
    team: Annotated[Optional[str], typer.Option(help="Team id (required for rep and manager)")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 8 * 3600,
) -> None:
    """Mint a bearer token signed with CRM_AUTH_SECRET (for local use and scripts)."""
    from shared.auth import decode, mint

    value = mint(user, role, team, ttl=ttl)  # type: ignore[arg-type]
    decode(value)  # refuse to print a token the services would reject
    print(value)


@app.command()
def bench(
    scale: Annotated[str, typer.Option(help="small (quick check) or full (the figures of record)")] = "full",
    only: Annotated[Optional[list[str]], typer.Argument(help="Run only benchmarks whose name contains one of these")] = None,
) -> None:
    """Run every benchmark in bench/ and write docs/benchmarks.md."""
    from bench.run_all import run

    raise typer.Exit(1 if run(scale, only) else 0)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(min=1, help="How many customers")] = 2000,
    seed: Annotated[int, typer.Option(help="Same seed, same data: a rerun adds nothing")] = 7,
    customers_url: Annotated[str, typer.Option(envvar="CRM_CUSTOMERS_URL")] = "http://127.0.0.1:8001",
    grading_url: Annotated[str, typer.Option(envvar="CRM_GRADING_URL")] = "http://127.0.0.1:8002",
    complaints_url: Annotated[str, typer.Option(envvar="CRM_COMPLAINTS_URL")] = "http://127.0.0.1:8003",
    notifier_url: Annotated[str, typer.Option(envvar="CRM_NOTIFIER_URL")] = "http://127.0.0.1:8004",
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Requests in flight")] = 16,
    wait: Annotated[float, typer.Option(help="Seconds to wait for events to reach grading and complaints")] = 180,
) -> None:
    """Fill a running stack (`crm up`) with a realistic organization through the HTTP APIs: teams, reps,
    customers, contacts, two years of orders and payments, visits, complaints. Idempotent per --seed."""
    from shared import demo as demo_data

    urls = demo_data.Urls(customers_url.rstrip("/"), grading_url.rstrip("/"), complaints_url.rstrip("/"), notifier_url.rstrip("/"))
    try:
        stats = asyncio.run(demo_data.run(customers=customers, seed=seed, urls=urls, concurrency=concurrency, patience=wait, console=console))
    except demo_data.DemoError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    demo_data.summary(stats, customers, console)
    raise typer.Exit(1 if stats.failed else 0)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run the test suite (real PostgreSQL and broker are started if not given)."""
    raise typer.Exit(subprocess.call([sys.executable, "-m", "pytest", *ctx.args], cwd=ROOT))


if __name__ == "__main__":
    app()
