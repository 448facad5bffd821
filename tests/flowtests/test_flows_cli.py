"""``stackplan run`` and ``stackplan server`` as a user runs them: subprocesses, a real local Prefect
server that stackplan starts itself (SQLite in a temp STACKPLAN_HOME), states counted from its API."""

from __future__ import annotations

import json

import pytest
from example_plan import example_plan, job_id

from tests.stackplan_cli import PROJECT, run_cli, run_report, user_env

pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def test_run_resume_and_history_through_the_embedded_server(tmp_path):
    env = user_env(tmp_path)
    plan = example_plan(PROJECT / "examples" / "stack")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.to_json())
    channel = tmp_path / "ch"
    core = job_id("sp-core", "osx-arm64")

    run_cli(["server", "start"], env, check=0)
    try:
        status = run_cli(["server", "status"], env, check=0)
        api = status.stdout.split("API ")[1].split()[0]

        first = run_cli(
            ["run", str(plan_file), "--fail", core, "--time-scale", "0", "--output-dir", str(channel)],
            env,
            check=1,
        )
        assert "FAILED" in first.stderr and f"Skipped: upstream {core} failed" in first.stderr
        _, report = run_report(channel)
        assert report["counts"] == {"Completed": 7, "Failed": 1, "Skipped": 2}

        second = run_cli(
            ["run", str(plan_file), "--resume", "last", "--time-scale", "0", "--output-dir", str(channel)],
            env,
            check=0,
        )
        assert "3 jobs to run, 7 reused" in second.stderr
        reports = sorted(channel.glob("stackplan-run-*.json"), key=lambda p: p.stat().st_mtime)
        last = json.loads(reports[-1].read_text())
        ran = sorted(j["job"] for j in last["jobs"] if j["state"] == "Completed")
        assert ran == sorted([core, job_id("sp-tools", "osx-arm64"), job_id("sp-app", "osx-arm64")])

        # both runs' job states are in the server's history
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from flows.run.runner import count_recorded

        with temporary_settings(updates={PREFECT_API_URL: api}):
            counts = count_recorded(
                sorted({j["flow_run"] for r in (report, last) for j in r["jobs"] if j["flow_run"]})
            )
        assert counts == {"Completed": 10, "Failed": 1, "Skipped": 2}

        # `run ROOT` takes plan's selection flags and builds exactly what `plan` selects with them
        flags = ["-p", "osx-arm64", "-k", "sp-core", "--downstream=1", "--no-cache"]
        planned = tmp_path / "selected.json"
        run_cli(["plan", str(PROJECT / "examples" / "stack"), *flags, "-o", str(planned), "-q"], env, check=0)
        expected = sorted(n["id"] for n in json.loads(planned.read_text())["nodes"] if not n.get("skipped"))
        channel2 = tmp_path / "ch2"
        root_args = [str(PROJECT / "examples" / "stack"), *flags, "--time-scale", "0"]
        old = run_cli(["run", *root_args, "--channel", str(channel2)], env, check=0)  # the old spelling
        assert "deprecated: use --output-dir" in old.stderr
        _, built = run_report(channel2)
        assert sorted(j["job"] for j in built["jobs"]) == expected
        assert {j["state"] for j in built["jobs"]} == {"Completed"} and len(expected) == 2
    finally:
        run_cli(["server", "stop"], env)
    assert run_cli(["server", "status"], env).returncode == 1


def test_bad_input_is_a_clear_error(tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    proc = run_cli(["run", str(bad)], check=2)
    assert "not a plan JSON" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["run", str(tmp_path / "nope")], check=2)
    assert "no such plan file or recipe tree" in proc.stderr


def test_plan_flags_with_a_plan_file_are_refused(tmp_path):
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(example_plan(PROJECT / "examples" / "stack").to_json())
    proc = run_cli(["run", str(plan_file), "-k", "sp-core", "--downstream=1"], check=2)
    assert "--downstream, --package" in proc.stderr and "recipe tree only" in proc.stderr


def test_run_root_reports_a_cycle_like_plan(tmp_path):
    for name, dep in (("a", "b"), ("b", "a")):
        d = tmp_path / "recipes" / name
        d.mkdir(parents=True)
        (d / "meta.yaml").write_text(
            f"package:\n  name: {name}\n  version: 1\nrequirements:\n  host:\n    - {dep}\n"
        )
    proc = run_cli(["run", str(tmp_path), "-p", "linux-64", "--strict-cycles", "--no-cache"])
    assert proc.returncode == 3, proc.stderr
    assert "cycle" in proc.stderr.lower() and "Traceback" not in proc.stderr


def test_run_leaves_the_server_it_started_for_the_ui_when_asked(tmp_path):
    env = user_env(tmp_path)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(example_plan(PROJECT / "examples" / "stack").to_json())
    try:
        run = run_cli(
            [
                "run",
                str(plan_file),
                "--time-scale",
                "0",
                "--output-dir",
                str(tmp_path / "ch"),
                "--keep-server",
            ],
            env,
            check=0,
        )
        assert (
            "Prefect UI stays up at http://127.0.0.1:" in run.stderr and "stackplan server stop" in run.stderr
        )
        assert run_cli(["server", "status"], env).returncode == 0  # still there, found as `server start`'s
    finally:
        run_cli(["server", "stop"], env)
    assert run_cli(["server", "status"], env).returncode == 1
