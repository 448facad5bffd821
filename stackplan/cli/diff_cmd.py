"""``stackplan diff PLAN_A PLAN_B``: jobs added, removed, moved between layers, rebuilt (the rules:
:mod:`planner.plan.diff`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from stackplan.cli.errors import ExitCode, fail
from stackplan.cli.plan_options import Command


def diff(
    plan_a: Annotated[Path, typer.Argument(metavar="PLAN_A", help="The plan before (e.g. of the base).")],
    plan_b: Annotated[Path, typer.Argument(metavar="PLAN_B", help="The plan after (e.g. of the PR head).")],
    as_json: Annotated[bool, typer.Option("--json", help="The changes as one JSON object.")] = False,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when the plans differ (as git diff --exit-code).")
    ] = False,
) -> None:
    """Show what changed between two plans: jobs added, removed, moved to another layer, rebuilt as
    another version, newly skipped; and each platform's makespan before and after.

    Jobs are matched by recipe dir, platform and variant, so a version bump shows as "rebuilt" (or
    "moved", when its layer changed too), not as one job removed and another added.

    Example:

      git stash; stackplan plan . -o base.json; git stash pop; stackplan plan . -o head.json

      stackplan diff base.json head.json
    """
    from planner.export.common import makespan_text
    from planner.plan.diff import diff_plans
    from stackplan.cli.plan_cmd import read_plan

    for path in (plan_a, plan_b):
        if not path.is_file():
            fail(f"{path}: no such plan file", ExitCode.USAGE)
    a, b = read_plan(plan_a), read_plan(plan_b)
    result = diff_plans(a, b)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), sort_keys=True, indent=1))
    else:
        counts = result.counts()
        typer.echo(
            f"plan {result.a} -> {result.b}: "
            + (", ".join(f"{n} {k}" for k, n in counts.items()) if counts else "no job changed")
        )
        for platform, (x, y) in sorted(result.makespan.items()):
            if x != y:
                typer.echo(
                    f"  {platform}: makespan {makespan_text(a, platform)} -> {makespan_text(b, platform)}"
                )
        for c in result.changes:
            arrow = f"{c.before} -> {c.after}" if c.before and c.after else (c.after or c.before)
            variant = f" [{c.variant}]" if c.variant else ""
            typer.echo(f"{c.kind:9} {c.lane:14} {c.recipe}{variant}: {arrow}")
    if exit_code and result.changes:
        raise typer.Exit(int(ExitCode.FAILED))


def register(app: typer.Typer) -> None:
    app.command("diff", cls=Command)(diff)
