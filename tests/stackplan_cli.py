"""``stackplan`` as a user runs it: a subprocess of this interpreter, from the project root."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without its ``PREFECT_*`` settings (the test harness's), with a
    private ``STACKPLAN_HOME`` (``tmp_path/state``) and ``HOME``, no telemetry, and ``extra`` over it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        STACKPLAN_HOME=str(tmp_path / "state"),
        HOME=str(tmp_path / "home"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    env.update(extra)
    return env


def run_cli(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    check: int | None = None,
    timeout: float | None = 600,
) -> subprocess.CompletedProcess[str]:
    """``python -m stackplan ARGS`` to the end, output captured as text; ``check``: the exit code it
    must give (else the assertion shows its output)."""
    proc = subprocess.run(
        [sys.executable, "-m", "stackplan", *args],
        cwd=PROJECT,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check is not None:
        assert proc.returncode == check, proc.stdout + proc.stderr
    return proc


def start_cli(args: Sequence[str], env: Mapping[str, str] | None = None, **popen) -> subprocess.Popen:
    """``python -m stackplan ARGS`` started and left running (a server); stdout and stderr together in
    ``proc.stdout`` unless ``popen`` says otherwise."""
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, **popen}
    return subprocess.Popen(
        [sys.executable, "-m", "stackplan", *args],
        cwd=PROJECT,
        env=None if env is None else dict(env),
        **popen,
    )


def run_report(channel: Path) -> tuple[Path, dict]:
    """The report of the newest run ``stackplan run`` finished into ``channel``: its path and contents
    (the run must have finished: a newest run with only a journal fails the test)."""
    from flows.run.report import latest_run, read_report

    path = latest_run(channel)
    assert path is not None and path.suffix == ".json", f"no finished run report in {channel}: {path}"
    return path, read_report(path)
