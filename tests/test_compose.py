"""docker-compose.yml: valid, and wired as the ops mode promises (no Docker engine needed).

`docker compose config` (CLI v2 plugin) or `docker-compose config` (Debian package
`docker-compose`, v1) parses, interpolates and validates the file without a daemon.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is in the test extras: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
APP_SERVICES = {"customers": 8001, "grading": 8002, "complaints": 8003, "notifier": 8004}
ALL_SERVICES = {"kafka", "postgres", "migrate", *APP_SERVICES}


def _compose_command() -> list[str] | None:
    """`docker compose` if the v2 plugin answers, else `docker-compose`; None if neither is installed."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for cmd in candidates:
        try:
            probe = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return cmd
    return None


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    cmd = _compose_command()
    if cmd is None:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` is on PATH "
            "(Debian: apt-get install -y --no-install-recommends docker-compose)"
        )
    # COMPOSE_* variables from the caller's shell (profiles, project files) would change the result.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    # --profile ui: v2 leaves services of inactive profiles out of `config`.
    result = subprocess.run(
        [*cmd, "--profile", "ui", "-f", str(COMPOSE_FILE), "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{' '.join(cmd)} config failed ({result.returncode}):\n{result.stderr}"
    parsed = yaml.safe_load(result.stdout)
    assert isinstance(parsed, dict) and isinstance(parsed.get("services"), dict), result.stdout
    return parsed


def _published_ports(service: dict[str, Any]) -> set[int]:
    """Host ports of a service, from the short ("8001:8001") or the long ({published: 8001}) syntax."""
    ports = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published = port.get("published")
        else:
            parts = str(port).split("/")[0].split(":")
            published = parts[-2] if len(parts) >= 2 else None
        if published not in (None, ""):
            ports.add(int(published))
    return ports


def _condition(service: dict[str, Any], dependency: str) -> str | None:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):  # short syntax: no condition
        return "service_started" if dependency in depends_on else None
    entry = depends_on.get(dependency)
    return None if entry is None else (entry or {}).get("condition", "service_started")


def _healthcheck_test(service: dict[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    return " ".join(test) if isinstance(test, list) else str(test or "")


def test_all_services_exist(config: dict[str, Any]) -> None:
    services = config["services"]
    missing = ALL_SERVICES - set(services)
    assert not missing, f"missing services: {sorted(missing)}"
    assert "kafka-ui" in services


def test_kafka_is_apache_kafka_with_healthcheck_and_volume(config: dict[str, Any]) -> None:
    kafka = config["services"]["kafka"]
    image = kafka["image"]
    assert image.startswith("apache/kafka:"), image
    tag = image.split(":", 1)[1]
    assert tag.startswith(("3.9", "4.")), f"pin a 3.9 or 4.x tag, not {tag!r}"
    assert _healthcheck_test(kafka), "kafka has no healthcheck"
    assert kafka.get("volumes"), "kafka data is not on a volume"
    env = kafka.get("environment") or {}
    assert "broker" in str(env.get("KAFKA_PROCESS_ROLES")) and "controller" in str(env.get("KAFKA_PROCESS_ROLES"))


def test_postgres_has_pg_isready_healthcheck_and_volume(config: dict[str, Any]) -> None:
    postgres = config["services"]["postgres"]
    assert postgres["image"].startswith("postgres:17"), postgres["image"]
    assert "pg_isready" in _healthcheck_test(postgres)
    assert postgres.get("volumes"), "postgres data is not on a volume"
    assert {"kafka-data", "postgres-data"} <= set(config.get("volumes") or {})


def test_migrate_job_runs_migrations_and_topics_after_healthy_infrastructure(config: dict[str, Any]) -> None:
    migrate = config["services"]["migrate"]
    command = migrate["command"]
    command = " ".join(command) if isinstance(command, list) else command
    assert "crm migrate" in command and "crm topics" in command, command
    assert _condition(migrate, "kafka") == "service_healthy"
    assert _condition(migrate, "postgres") == "service_healthy"
    assert migrate.get("restart", "no") == "no", "a one-shot job must not be restarted"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_service_wiring(config: dict[str, Any], name: str) -> None:
    service = config["services"][name]
    port = APP_SERVICES[name]
    assert service["command"] == ["crm", "serve", name]
    assert service.get("image") == config["services"]["migrate"].get("image"), "one image for all services"
    assert _condition(service, "kafka") == "service_healthy"
    assert _condition(service, "postgres") == "service_healthy"
    assert _condition(service, "migrate") == "service_completed_successfully"
    assert service.get("restart") == "unless-stopped"
    check = _healthcheck_test(service)
    assert f":{port}/ready" in check, f"{name} healthcheck does not probe /ready on {port}: {check!r}"
    assert port in _published_ports(service), f"{name} does not publish {port}"
    env = service.get("environment") or {}
    prefix = name.upper()
    assert env.get(f"{prefix}_HTTP_HOST") == "0.0.0.0"
    assert str(env.get(f"{prefix}_HTTP_PORT", port)) == str(port)
    assert str(env.get(f"{prefix}_DATABASE_URL", "")).startswith("postgresql+asyncpg://")
    assert str(env.get(f"{prefix}_DATABASE_URL")).endswith(f"/crm_{name}")
    assert env.get("KAFKA_BOOTSTRAP_SERVERS") == "kafka:9092"


def test_kafka_ui_is_optional(config: dict[str, Any]) -> None:
    ui = config["services"]["kafka-ui"]
    assert ui["image"].startswith("ghcr.io/kafbat/kafka-ui"), ui["image"]
    assert ui.get("profiles"), "kafka-ui must sit behind a profile"
