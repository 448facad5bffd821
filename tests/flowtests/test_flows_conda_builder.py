"""The conda-build builder against a fake ``conda`` executable (conda-build is not on PyPI, so the real
tool is out of reach here): a small script first on PATH that records the argv and environment it
got, prints like a build, and writes a package into the output folder it was given. The builder is
run directly (the command it runs, the packages it reports, a failure) and through the flows against
the session's Prefect server (a failed build is a Failed job with the tool's output in its log)."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from flows.builders import BuildContext, RecipeFailure, get_builder
from flows.builders.conda_builder import CondaBuildMissing
from planner.plan.model import Plan, PlanEdge, PlanNode
from tests.plan_fixtures import plan_node

FAKE_CONDA = f"""#!{sys.executable}
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
if os.environ.get("FAKE_CONDA_NO_BUILD"):  # a conda without conda-build
    print("conda: error: argument COMMAND: invalid choice: 'build'", file=sys.stderr)
    sys.exit(2)
if args[:2] == ["build", "--version"]:
    print("conda-build 25.1.1")
    sys.exit(0)
with open(os.environ["FAKE_CONDA_RECORD"], "a") as record:
    env = {{k: os.environ.get(k) for k in ("PYTHONUNBUFFERED", "FAKE_CONDA_FAIL")}}
    record.write(json.dumps({{"argv": args, "env": env}}) + "\\n")
recipe = Path(args[1])
out = Path(args[args.index("--output-folder") + 1])
variants = json.loads(args[args.index("--variants") + 1])
print(f"fake conda-build: building {{recipe.name}} for {{variants['target_platform'][0]}}")
if recipe.name in os.environ.get("FAKE_CONDA_FAIL", "").split(","):
    print(f"ERROR: {{recipe.name}}: the build script exited 1", file=sys.stderr)
    sys.exit(1)
noarch = "noarch:" in (recipe / "meta.yaml").read_text()
subdir = "noarch" if noarch else variants["target_platform"][0]
(out / subdir).mkdir(parents=True, exist_ok=True)
(out / subdir / f"{{recipe.name}}-1.0-h0_0.conda").write_bytes(b"not really a package")
print("fake conda-build: done")
"""


def _node(recipe: str, platform: str, *, layer: int = 0, variant=None, noarch: bool = False) -> PlanNode:
    """A job as the flows get it: no duration, pools named by the platform."""
    return plan_node(
        recipe,
        platform,
        noarch=noarch,
        layer=layer,
        variant=dict(variant or {}),
        duration_estimate=0.0,
        pool=platform,
        test_pool=platform,
    )


@pytest.fixture
def fake_conda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``conda`` first on PATH; returns the file it records its calls in (JSON lines)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "conda"
    exe.write_text(FAKE_CONDA)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / "conda-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_CONDA_RECORD", str(record))
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    return record


@pytest.fixture
def recipes(tmp_path: Path) -> Path:
    root = tmp_path / "recipes"
    for name, extra in (("zz-lib", ""), ("zz-app", ""), ("zz-doc", "build:\n  noarch: generic\n")):
        (root / name).mkdir(parents=True)
        (root / name / "meta.yaml").write_text(f"package:\n  name: {name}\n  version: '1.0'\n{extra}")
    return root


def _calls(record: Path) -> list[dict]:
    return [json.loads(line) for line in record.read_text().splitlines()]


def _build(node: PlanNode, root: Path, channel: Path, options=None):
    builder = get_builder("conda-build", options)
    builder.prepare(channel, (node.build_platform, node.platform))
    lines: list[str] = []
    result = builder.build(node, BuildContext(root=root, channel=channel, log=lines.append))
    return result, lines


def test_conda_build_runs_the_recipe_for_the_jobs_variant_and_platform(fake_conda, recipes, tmp_path):
    channel = tmp_path / "ch"
    node = _node("zz-lib", "linux-64", variant={"python": "3.11", "numpy": "2.0"})
    result, lines = _build(node, recipes, channel, {"channels": ["file:///srv/extra"]})

    (call,) = _calls(fake_conda)
    resolved = channel.resolve()
    assert call["argv"] == [
        "build",
        str(recipes / "zz-lib"),
        "--output-folder",
        str(resolved),
        "--no-anaconda-upload",
        "--no-test",
        "--override-channels",
        "-c",
        resolved.as_uri(),
        "-c",
        "file:///srv/extra",
        "--variants",
        json.dumps({"numpy": ["2.0"], "python": ["3.11"], "target_platform": ["linux-64"]}, sort_keys=True),
    ]
    assert call["env"]["PYTHONUNBUFFERED"] == "1"  # output reaches the log as it is printed
    assert result.packages == ("linux-64/zz-lib-1.0-h0_0.conda",)
    assert lines == ["fake conda-build: building zz-lib for linux-64", "fake conda-build: done"]


def test_conda_build_targets_the_jobs_platform_and_noarch_builds_where_it_runs(fake_conda, recipes, tmp_path):
    channel = tmp_path / "ch"
    cross, _ = _build(_node("zz-app", "osx-arm64"), recipes, channel)
    noarch, _ = _build(_node("zz-doc", "linux-64", noarch=True), recipes, channel)

    targets = [json.loads(c["argv"][c["argv"].index("--variants") + 1]) for c in _calls(fake_conda)]
    assert targets == [{"target_platform": ["osx-arm64"]}, {"target_platform": ["linux-64"]}]
    assert cross.packages == ("osx-arm64/zz-app-1.0-h0_0.conda",)
    assert noarch.packages == ("noarch/zz-doc-1.0-h0_0.conda",)  # only what this build added


def test_a_failed_conda_build_is_a_recipe_failure_with_its_output(fake_conda, recipes, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CONDA_FAIL", "zz-lib")
    why = r"conda build failed \(exit code 1\); last lines of the build log:\n(.|\n)*build script exited 1"
    with pytest.raises(RecipeFailure, match=why) as err:
        _build(_node("zz-lib", "linux-64"), recipes, tmp_path / "ch")
    assert "zz-lib-1.0-0@linux-64" in str(err.value)
    assert not list((tmp_path / "ch").glob("*/*.conda"))


def test_conda_without_build_subcommand_is_conda_build_missing(fake_conda, recipes, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CONDA_NO_BUILD", "1")
    with pytest.raises(CondaBuildMissing, match="conda-build is not installed"):
        _build(_node("zz-lib", "linux-64"), recipes, tmp_path / "ch")
    assert not fake_conda.exists()  # only the probe ran


def _plan(root: Path) -> Plan:
    lib = _node("zz-lib", "linux-64")
    app = _node("zz-app", "linux-64", layer=1)
    doc = _node("zz-doc", "linux-64", noarch=True)
    layers = {"linux-64": ((doc.id, lib.id), (app.id,))}
    return Plan(
        root=str(root),
        platforms=("linux-64",),
        nodes=(lib, app, doc),
        edges=(PlanEdge(lib.id, app.id, "host", "zz-lib"),),
        layers=layers,
    ).with_hash()


@pytest.mark.prefect
@pytest.mark.slow
def test_a_failed_conda_build_fails_its_job_with_the_output_in_the_prefect_log(
    prefect_harness, fake_conda, recipes, tmp_path, monkeypatch, request
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterTaskRunId,
        TaskRunFilter,
        TaskRunFilterName,
    )
    from prefect.client.schemas.sorting import LogSort, TaskRunSort
    from prefect.utilities.asyncutils import run_coro_as_sync

    from flows.run.runner import run_plan
    from flows.server.embedded import flush_client

    monkeypatch.setenv("FAKE_CONDA_FAIL", "zz-lib")
    # the build output is logged at INFO; `./dev test` runs with PREFECT_LOGGING_LEVEL=WARNING (quiet
    # test output), which would keep it from the API: this test is about what a user's run records
    import prefect.main  # noqa: F401 - Prefect configures its loggers on this import: before we set one

    task_logger = logging.getLogger("prefect.task_runs")
    was = task_logger.level
    task_logger.setLevel(logging.INFO)  # setLevel, not the attribute: it clears logging's level cache
    request.addfinalizer(lambda: task_logger.setLevel(was))
    plan = _plan(recipes)
    result = run_plan(plan, builder="conda-build", channel=str(tmp_path / "ch"), options={"retry_delay": 0})

    jobs = {j["job"]: j for j in result.report["jobs"]}
    lib, app, doc = (n.id for n in plan.nodes)
    assert not result.ok
    assert jobs[lib]["state"] == "Failed" and jobs[lib]["attempts"] == 1  # a recipe failure: no retry
    assert jobs[lib]["message"].startswith(
        "RecipeFailure: zz-lib-1.0-0@linux-64: conda build failed (exit code 1)"
    )
    assert jobs[app]["state"] == "Skipped" and jobs[app]["cause"] == lib
    assert jobs[doc]["state"] == "Completed" and jobs[doc]["packages"] == ["noarch/zz-doc-1.0-h0_0.conda"]
    assert len(_calls(fake_conda)) == 2  # zz-app never ran

    flush_client()

    async def lib_log() -> list[str]:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(jobs[lib]["flow_run"])])),
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=[lib])),
                sort=TaskRunSort.ID_DESC,
                limit=10,
            )
            logs = await client.read_logs(
                log_filter=LogFilter(task_run_id=LogFilterTaskRunId(any_=[r.id for r in runs])),
                sort=LogSort.TIMESTAMP_ASC,
                limit=200,
                offset=0,
            )
            return [entry.message for entry in logs]

    deadline = time.monotonic() + 60
    messages = run_coro_as_sync(lib_log())
    while "ERROR: zz-lib: the build script exited 1" not in messages and time.monotonic() < deadline:
        time.sleep(0.5)
        messages = run_coro_as_sync(lib_log())
    assert "fake conda-build: building zz-lib for linux-64" in messages
    assert "ERROR: zz-lib: the build script exited 1" in messages
