"""Pure parts of the flows: tags, the report and its Markdown table, retry policy, resume, builders'
error paths (conda-build missing, a meta.yaml given to rattler-build)."""

from __future__ import annotations

from pathlib import Path

import pytest
from example_plan import example_plan, job_id

from flows.builders import (
    BuildContext,
    InfrastructureFailure,
    RecipeFailure,
    UnknownBuilderError,
    get_builder,
)
from flows.builders.conda_builder import CondaBuildMissing
from flows.run.outcomes import JobOutcome
from flows.run.report import build_report, markdown_table
from flows.run.resume import ResumeError, resume_options
from flows.run.retry import should_retry
from flows.run.tags import job_tags, run_tags

ROOT = Path(__file__).resolve().parents[2] / "examples" / "stack"


def test_tags(stack_plan):
    node = stack_plan.node(job_id("sp-tools", "osx-arm64"))
    tags = job_tags(stack_plan.hash, node, pr=7)
    assert tags[:4] == ["stackplan", f"plan:{stack_plan.hash[:12]}", "platform:osx-arm64", "pr:7"]
    assert {"package:sp-tools-lib", "package:sp-tools-cli", "recipe:sp-tools"} <= set(tags)
    assert len(tags) == len(set(tags))
    assert run_tags(stack_plan.hash) == ["stackplan", f"plan:{stack_plan.hash[:12]}"]


def test_report_and_markdown(stack_plan):
    outcomes = [
        JobOutcome("a@linux-64", "linux-64", "a", "Completed", duration=1.25, packages=("linux-64/a.conda",)),
        JobOutcome("b@linux-64", "linux-64", "b", "Failed", "RecipeFailure: exit 1 | boom"),
        JobOutcome(
            "c@linux-64",
            "linux-64",
            "c",
            "Skipped",
            "Skipped: upstream b@linux-64 failed",
            cause="b@linux-64",
        ),
    ]
    report = build_report(
        plan_hash=stack_plan.hash,
        root=".",
        builder="dry-run",
        channel="/ch",
        outcomes=outcomes,
        started=0.0,
        finished=10.0,
    )
    assert report["state"] == "Failed" and report["counts"] == {"Completed": 1, "Failed": 1, "Skipped": 1}
    md = markdown_table(report)
    rows = [line for line in md.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == ["b@linux-64", "c@linux-64", "a@linux-64"]  # failures first
    assert "exit 1 \\| boom" in md and "| 1.25 |" in md


def test_retry_policy():
    assert should_retry(InfrastructureFailure("disk"), "infrastructure")
    assert should_retry(OSError("crash"), "infrastructure")
    assert not should_retry(RecipeFailure("exit 1"), "infrastructure")
    assert should_retry(RecipeFailure("exit 1"), "all")
    assert not should_retry(InfrastructureFailure("disk"), "none")


def test_resume_options(stack_plan):
    done = {job_id("sp-base", "linux-64"), job_id("sp-docs", "linux-64")}
    report = {
        "plan_hash": stack_plan.hash,
        "jobs": [{"job": j, "state": "Completed"} for j in done]
        + [{"job": job_id("sp-core", "linux-64"), "state": "Failed"}],
    }
    opts = resume_options(stack_plan, report)
    assert set(opts["reused"]) == done
    assert job_id("sp-core", "linux-64") in opts["only"] and not set(opts["only"]) & done
    with pytest.raises(ResumeError):
        resume_options(example_plan(ROOT, platforms=("linux-64",)), report)


def _ctx(tmp_path):
    lines: list[str] = []
    return BuildContext(root=ROOT, channel=tmp_path / "ch", log=lines.append), lines


def test_conda_build_missing_is_a_clear_error_never_retried(stack_plan, tmp_path):
    builder = get_builder("conda-build", {"conda": "no-such-conda-executable"})
    ctx, _ = _ctx(tmp_path)
    with pytest.raises(CondaBuildMissing, match="conda-build is not installed") as caught:
        builder.build(stack_plan.node(job_id("sp-base", "linux-64")), ctx)
    assert not should_retry(caught.value, "infrastructure")
    assert not should_retry(caught.value, "all")


def test_preflight_names_the_recipes_a_builder_cannot_build(stack_plan):
    from dataclasses import replace

    from flows.builders.preflight import preflight

    jobs = [replace(n, format="v0") if n.recipe.endswith("sp-base") else n for n in stack_plan.nodes]
    problems = preflight("conda-build", jobs, {"conda": "no-such-conda-executable"})
    assert any("conda-build is not installed" in p for p in problems)
    assert any("builds meta.yaml recipes" in p and "--builder rattler-build" in p for p in problems)
    assert preflight("dry-run", jobs) == []
    wrong = preflight("rattler-build", jobs)
    assert any("builds recipe.yaml" in p and "sp-base" in p for p in wrong)


def test_rattler_build_refuses_a_meta_yaml_recipe(stack_plan, tmp_path):
    from dataclasses import replace

    mixed = Path(__file__).resolve().parents[2] / "examples" / "mixed"
    node = replace(stack_plan.node(job_id("sp-base", "linux-64")), recipe="mx-zlib")
    ctx = BuildContext(root=mixed, channel=tmp_path / "ch", log=lambda _line: None)
    with pytest.raises(RecipeFailure, match="needs --builder conda-build"):
        get_builder("rattler-build").build(node, ctx)


def test_unknown_builder():
    with pytest.raises(UnknownBuilderError, match="dry-run"):
        get_builder("make")
