"""Runs that survive a crash, tried as an operator would: a real ``stackplan run`` subprocess building
with rattler-build is killed with SIGKILL (or stopped with SIGTERM) in the middle, then resumed.

Checked: the journal records what finished before the kill; ``--resume last`` names the killed run
and builds exactly the jobs without a published package; the build processes the dead run left behind
are stopped by the next start; the dead run's flow runs are set Crashed; SIGTERM stops the builds with
the run; publishing into the channel stays atomic when killed at any moment."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.run import liveness
from flows.run.journal import read_journal
from tests.recipe_files import script_recipe
from tests.stackplan_cli import PROJECT, run_cli, run_report, start_cli, user_env

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

def _stack(root: Path, marks: Path) -> None:
    """crash-fast builds at once; crash-slow1/2 write their shell's pid and hang until ``marks/RELEASE``
    exists; crash-top needs crash-slow1."""
    marks.mkdir(parents=True, exist_ok=True)
    install = 'mkdir -p "$PREFIX/share/{0}" && echo ok > "$PREFIX/share/{0}/f"'
    script_recipe(root, "crash-fast", [install.format("crash-fast")])
    for slow in ("crash-slow1", "crash-slow2"):
        hang = f'if [ ! -f "{marks}/RELEASE" ]; then echo $$ > "{marks}/{slow}.pid"; sleep 300; fi'
        script_recipe(root, slow, [hang, install.format(slow)])
    script_recipe(root, "crash-top", [install.format("crash-top")], host=["crash-slow1"])


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _alive(pid: int) -> bool:
    return liveness.proc_start(pid) is not None


def _journal_states(channel: Path) -> dict[str, str]:
    found = list(channel.glob("stackplan-run-*.jsonl"))
    if not found:
        return {}
    return {j["recipe"]: j["state"] for j in read_journal(found[0])["jobs"]}


def _run_args(root: Path, channel: Path) -> list[str]:
    """``stackplan run`` of the test stack on linux-64 with real rattler-build builds into ``channel``."""
    return ["run", str(root), "-p", "linux-64", "--no-cache", "-b", "rattler-build",
            "--output-dir", str(channel)]


def test_kill_9_then_resume_builds_exactly_what_is_missing(tmp_path):
    env = user_env(tmp_path, RATTLER_CACHE_DIR=str(tmp_path / "rattler-cache"))
    root, marks, channel = tmp_path / "stack", tmp_path / "marks", tmp_path / "channel"
    _stack(root, marks)
    args = _run_args(root, channel)
    args += ["--retries", "0", "-P", "4"]
    run_cli(["server", "start"], env, check=0)
    run = None
    pids: list[int] = []
    try:
        api = run_cli(["server", "status"], env, check=0).stdout.split("API ")[1].split()[0]
        log = open(tmp_path / "run1.log", "w")  # noqa: SIM115
        run = start_cli(args, env, stdout=log, stderr=log)
        _wait(
            lambda: (
                all((marks / f"{s}.pid").is_file() for s in ("crash-slow1", "crash-slow2"))
                and _journal_states(channel).get("crash-fast") == "Completed"
            ),
            240,
            "the slow builds to hang and crash-fast to be journaled",
        )
        time.sleep(0.5)  # the pid files are written; let the shells reach their sleep
        pids = [int((marks / f"{s}.pid").read_text()) for s in ("crash-slow1", "crash-slow2")]
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        killed = read_journal(next(channel.glob("stackplan-run-*.jsonl")))
        assert killed["state"] == "Interrupted"
        assert {j["recipe"]: j["state"] for j in killed["jobs"]} == {"crash-fast": "Completed"}
        assert not list(channel.glob("stackplan-run-*.json"))  # no final report: the journal is all
        assert all(_alive(p) for p in pids), "the killed run's builds should still be running (orphans)"

        (marks / "RELEASE").write_text("")
        second = run_cli([*args, "--resume", "last"], env, check=0)
        assert f"Resuming run {killed['run']} (Interrupted" in second.stderr, second.stderr
        assert "3 jobs to run, 1 reused from the channel" in second.stderr
        assert "stopped 2 orphaned build process group(s)" in " ".join(second.stderr.split()), second.stderr
        assert not any(_alive(p) for p in pids)
        _, report = run_report(channel)
        assert report["resumes"] == killed["run"]
        states = {j["recipe"]: j["state"] for j in report["jobs"]}
        assert states == {
            "crash-fast": "Reused",
            "crash-slow1": "Completed",
            "crash-slow2": "Completed",
            "crash-top": "Completed",
        }
        built = sorted(p.name.rsplit("-", 2)[0] for p in channel.glob("linux-64/*.conda"))
        assert built == ["crash-fast", "crash-slow1", "crash-slow2", "crash-top"]

        # the killed run's flow runs (main flow and the subflow) are Crashed, saying why
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        ids = {killed["flow_run"], *(j["flow_run"] for j in killed["jobs"])}
        with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            runs = [client.read_flow_run(i) for i in ids]
        assert len(runs) == 2
        for r in runs:
            assert r.state.type.value == "CRASHED", (r.name, r.state)
            assert f"pid {run.pid}" in r.state.message and "died" in r.state.message
    finally:
        if run is not None and run.poll() is None:
            run.kill()
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        run_cli(["server", "stop"], env)


def test_sigterm_stops_the_builds_with_the_run(tmp_path):
    env = user_env(tmp_path, RATTLER_CACHE_DIR=str(tmp_path / "rattler-cache"))
    root, marks, channel = tmp_path / "stack", tmp_path / "marks", tmp_path / "channel"
    _stack(root, marks)
    args = _run_args(root, channel)
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115
    run = start_cli([*args, "--retries", "0"], env, stdout=log, stderr=log)
    pids: list[int] = []
    try:
        _wait(
            lambda: all((marks / f"{s}.pid").is_file() for s in ("crash-slow1", "crash-slow2")), 240, "builds"
        )
        time.sleep(0.5)
        pids = [int((marks / f"{s}.pid").read_text()) for s in ("crash-slow1", "crash-slow2")]
        run.send_signal(signal.SIGTERM)
        code = run.wait(timeout=60)
        assert code != 0
        assert not any(_alive(p) for p in pids), "SIGTERM must stop the run's builds"
        assert not list((tmp_path / "state" / "procs").glob("*.jsonl"))  # a clean exit leaves no record
    finally:
        if run.poll() is None:
            run.kill()
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


_PUBLISHER = """
import shutil, sys
from pathlib import Path
from flows.builders import publish
channel, pkg = Path(sys.argv[1]), Path(sys.argv[2])
for i in range(int(sys.argv[3]), 10**6):
    staged = publish.staging_dir(channel, f"k{i}") / "linux-64"
    staged.mkdir()
    copy = staged / pkg.name.replace("-0.conda", f"-{i}.conda")
    shutil.copy(pkg, copy)
    publish.publish(channel, [copy])
    print(i, flush=True)
"""


def test_a_kill_during_publish_leaves_a_valid_index(tmp_path, build_env):
    """SIGKILL a process publishing packages in a loop at random moments: the index always parses and
    lists only files that exist, and the next publish indexes whatever the killed one moved in."""
    from example_plan import example_plan, job_id

    from flows.builders import BuildContext, publish
    from flows.builders.rattler_builder import RattlerBuilder

    root = PROJECT / "examples" / "stack"
    job = {n.id: n for n in example_plan(root).nodes}[job_id("sp-base", "linux-64")]
    channel = tmp_path / "channel"
    builder = RattlerBuilder({})
    builder.prepare(channel, ("linux-64",))
    [pkg_rel] = builder.build(job, BuildContext(root=root, channel=channel, log=lambda _: None)).packages
    pkg = tmp_path / Path(pkg_rel).name
    shutil.copy(channel / pkg_rel, pkg)
    assert oct((channel / pkg_rel).stat().st_mode & 0o777) == "0o644"
    rng = random.Random(14)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    start = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", _PUBLISHER, str(channel), str(pkg), str(start)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        proc.stdout.readline()  # one publish done: the loop is warm
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.wait()
        start += 1000
        data = json.loads((channel / "linux-64" / "repodata.json").read_text())  # parses: never torn
        listed = set(data.get("packages.conda", {}))
        assert listed and all((channel / "linux-64" / f).is_file() for f in listed)
    publish.publish(channel, [])  # nothing new: still re-indexes nothing; index explicitly
    with publish.channel_lock(channel):
        publish.index(channel, "linux-64")
    data = json.loads((channel / "linux-64" / "repodata.json").read_text())
    assert set(data["packages.conda"]) == {p.name for p in (channel / "linux-64").glob("*.conda")}
