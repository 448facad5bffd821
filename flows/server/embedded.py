"""The embedded Prefect server: stackplan starts and manages a local ``prefect server start`` itself.

With no ``PREFECT_API_URL`` in the environment, ``stackplan run`` needs a server that outlives the run
(Prefect's per-process ephemeral mode kills its server at exit before the task-run recorder has saved
most states). So stackplan runs a real server as a subprocess: SQLite in ``.stackplan/`` (or
``$STACKPLAN_HOME``), a free loopback port, telemetry and analytics off, and the task-run recorder and
event persister batch sizes raised so states land in seconds, not minutes. ``stackplan server start``
leaves it running (its address in ``.stackplan/server.json``) and later runs reuse it; otherwise a run
starts one for itself and stops it after the recorder caught up.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from planner.errors import StackplanError
from planner.state import state_home

SERVER_FILE = "server.json"

#: Always set for the embedded server: no telemetry.
SERVER_FORCED_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}

#: Defaults for the embedded server (an explicit environment variable wins), chosen so task-run
#: states land while the run goes on, not minutes later (see docs/flows.md, "embedded server"):
#: - the task-run recorder and event persister work in batches of 200, flushed every second;
#: - the event persister (which copies every event, ~3 per job, and its related resources into the
#:   ``events`` tables) is off: nothing in stackplan reads stored events, task-run and flow-run states
#:   are recorded by the task-run recorder from the event stream either way, and on SQLite those
#:   inserts were half of the server's CPU and what made it fall behind a busy run. Automations still
#:   see every event (the triggers service reads the stream, not the table); only Prefect UI's event
#:   feed stays empty. ``PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED=true`` turns it back on.
SERVER_DEFAULT_ENV = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_READ_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "1",
    "PREFECT_UI_ENABLED": "true",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}

#: Everything the embedded server is started with (tests' harness servers take the same).
SERVER_ENV = {**SERVER_DEFAULT_ENV, **SERVER_FORCED_ENV}


class ServerError(StackplanError, RuntimeError):
    """The embedded server could not be started or reached."""


@dataclass(frozen=True)
class ServerInfo:
    url: str  # API URL, ends in /api
    pid: int | None  # None: not ours (PREFECT_API_URL)
    home: Path | None

    @property
    def ui(self) -> str:
        return self.url.removesuffix("/api")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def server_env(home: Path, port: int) -> dict[str, str]:
    env = {**SERVER_DEFAULT_ENV, **os.environ, **SERVER_FORCED_ENV}
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(home / "prefect")
    env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{home / 'prefect.db'}"
    env["PREFECT_SERVER_API_HOST"] = "127.0.0.1"
    env["PREFECT_SERVER_API_PORT"] = str(port)
    env["PREFECT_UI_API_URL"] = f"http://127.0.0.1:{port}/api"
    return env


#: How long :func:`start` waits for a new server: a fresh database's migrations took 51 s here at load 8
#: (2 cores), so a loaded machine needs well over the 90 s this once was.
START_TIMEOUT = 240.0


def start(
    home: Path | None = None, *, timeout: float = START_TIMEOUT, database_url: str | None = None
) -> ServerInfo:
    """Start ``prefect server start`` in the background and wait until it answers /api/health."""
    home = home or state_home()
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = server_env(home, port)
    if database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    log = open(home / "server.log", "ab")  # noqa: SIM115 - the child keeps writing to it
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"prefect server exited with {proc.returncode}; see {home / 'server.log'}")
        if healthy(url, timeout=1.0):
            info = ServerInfo(url, proc.pid, home)
            (home / SERVER_FILE).write_text(json.dumps({"url": url, "pid": proc.pid}))
            return info
        time.sleep(0.3)
    _kill(proc.pid)
    raise ServerError(f"prefect server did not answer within {timeout:.0f}s; see {home / 'server.log'}")


def running(home: Path | None = None) -> ServerInfo | None:
    """The server ``stackplan server start`` left running in ``home``, if it still answers."""
    home = home or state_home()
    try:
        data = json.loads((home / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None
    if healthy(data["url"]):
        return ServerInfo(data["url"], int(data["pid"]), home)
    return None


def stop(info: ServerInfo) -> None:
    if info.pid is None:
        return
    _kill(info.pid)
    if info.home is not None:
        with contextlib.suppress(OSError):
            (info.home / SERVER_FILE).unlink()


def flush_client(timeout: float = 30.0) -> None:
    """Send the log lines and events this process still holds to the server (before it stops)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            service.drain_all(timeout=timeout)


def _kill(pid: int, timeout: float = 15.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (started by an earlier command): poll for it
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            done = 0
        if done == pid:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def prefect_api(home: Path | None = None, *, echo: bool = True, keep: bool = False) -> Iterator[ServerInfo]:
    """Point Prefect at a server for the duration: ``PREFECT_API_URL`` if set, else a server left
    running by ``stackplan server start``, else a fresh embedded one, stopped on exit unless ``keep``
    (then it stays in the background exactly as ``stackplan server start`` leaves one: ``stackplan
    server status/stop`` find it)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env_url = os.environ.get("PREFECT_API_URL")
    if env_url:
        yield ServerInfo(env_url, None, None)
        return
    info = running(home)
    owned = info is None
    if info is None:
        info = start(home)
    if echo:
        print(f"Prefect UI: {info.ui}  (history in {info.home})", file=sys.stderr, flush=True)
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = info.url  # for Prefect's background threads and child processes
    try:
        with temporary_settings(updates={PREFECT_API_URL: info.url}):
            try:
                yield info
            finally:
                flush_client()
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        if owned and not keep:
            stop(info)
