"""Work handed to a background process (stackplan/cli/background.py) and the snapshots it stores."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackplan.cli.background import busy_markers, in_background

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="background work needs fork")


def _wait(directory: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while busy_markers(directory) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not busy_markers(directory), "background work did not finish"


def test_work_runs_in_another_process_on_the_data_as_it_was(tmp_path: Path) -> None:
    data = {"value": "at the call"}
    out = tmp_path / "out.txt"

    def work() -> None:
        out.write_text(f"{os.getpid()} {data['value']}")

    in_background(work, tmp_path / "markers")
    data["value"] = "changed afterwards"  # the fork saw the data as it was when called
    _wait(tmp_path / "markers")
    pid, value = out.read_text().split(" ", 1)
    assert int(pid) != os.getpid() and value == "at the call"


def test_an_error_in_the_work_stays_in_the_child(tmp_path: Path) -> None:
    def work() -> None:
        raise RuntimeError("boom")

    in_background(work, tmp_path / "markers")  # returns normally
    _wait(tmp_path / "markers")  # and the marker is removed all the same


def test_foreground_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACKPLAN_BACKGROUND", "0")
    pids: list[int] = []
    in_background(lambda: pids.append(os.getpid()), tmp_path / "markers")
    assert pids == [os.getpid()] and not busy_markers(tmp_path / "markers")


def _plan(root: Path, cache: Path, out: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "stackplan",
            "plan",
            str(root),
            "-p",
            "linux-64",
            "-j",
            "1",
            "-q",
            "-o",
            str(out),
        ],
        cwd=PROJECT,
        env={**os.environ, "STACKPLAN_CACHE_DIR": str(cache), **env},
        capture_output=True,  # the background child must not hold these pipes open
        text=True,
        timeout=300,
        check=True,
    )


def test_the_command_stores_the_snapshot_after_answering_and_the_next_run_uses_it(tmp_path: Path) -> None:
    root = PROJECT / "examples" / "stack"
    cache = tmp_path / "cache"
    _plan(root, cache, tmp_path / "first.json")
    _wait(cache / "graphs")
    snapshots = sorted((cache / "graphs").glob("*.pickle"))
    assert len(snapshots) == 1
    _plan(root, cache, tmp_path / "second.json")
    _wait(cache / "graphs")
    # the second run found the snapshot (no other stored) and made the same plan
    assert sorted((cache / "graphs").glob("*.pickle")) == snapshots
    assert (tmp_path / "first.json").read_bytes() == (tmp_path / "second.json").read_bytes()
    # in the foreground the same snapshot results
    fg = tmp_path / "fg-cache"
    _plan(root, fg, tmp_path / "third.json", STACKPLAN_BACKGROUND="0")
    assert not busy_markers(fg / "graphs")
    assert [p.name for p in (fg / "graphs").glob("*.pickle")] == [snapshots[0].name]
    assert (tmp_path / "third.json").read_bytes() == (tmp_path / "first.json").read_bytes()
