"""``stackplan plan``, ``graph``, ``preview`` and ``explain``: the plan, its exports and explanations.

A thin shell: options become a :class:`planner.plan.build.PlanRequest` (``plan_options``), the planner
makes the plan, rich prints the summary. No Prefect import anywhere here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from stackplan.cli.errors import ExitCode, fail
from stackplan.cli.plan_options import OutputOpt, RootArg, Selection, SelectionCommand, selection


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def store_with(request):
    """Graph snapshots are stored by a background process: the answer is out before they are written
    (:mod:`stackplan.cli.background`; ``STACKPLAN_BACKGROUND=0`` stores them in the foreground)."""
    from stackplan.cli.background import in_background

    marker_dir = None if request.cache_dir is None else Path(request.cache_dir) / "graphs"
    return lambda save: in_background(save, marker_dir)


def _make_plan(request, make=None):
    """Build the plan (with ``make(request, reporter)``, default ``build_plan``) or exit non-zero with
    a clear message (never a traceback for bad input)."""
    from planner.graph.cycles import CycleError
    from planner.plan.build import PlanError, build_plan

    make = make or (lambda r, reporter: build_plan(r, reporter=reporter, store_with=store_with(r)))
    from stackplan.cli.progress import reporter_for

    # no terminal: no bar, and rich is not even imported (a warm preview is ~1.5 s in all)
    reporter = reporter_for()
    from planner.gc_pause import one_shot_process

    try:
        with one_shot_process():  # this process plans once and exits (see its docstring)
            return make(request, reporter)
    except CycleError as exc:
        fail(f"{exc}\n(--strict-cycles: not breaking them)", ExitCode.CYCLE)
    except (PlanError, NotADirectoryError) as exc:
        fail(str(exc), ExitCode.USAGE)


def to_stdout(output: Path | None) -> bool:
    """No ``-o``, or ``-o -``: the command's main output goes to stdout (and its chatter to stderr)."""
    return output is None or str(output) == "-"


def write_output(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` (a file), or to stdout for no ``-o`` / ``-o -``."""
    if to_stdout(output):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        assert output is not None
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}", ExitCode.USAGE)


def read_plan(path: Path):
    """The plan in a plan JSON file, or a usage error naming the file."""
    from planner.plan.model import Plan

    try:
        return Plan.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        fail(f"{path}: not a plan JSON ({exc})", ExitCode.USAGE)


def _summary(plan, stderr: bool = False) -> None:
    from rich.table import Table

    from planner.export.common import makespan_text

    console = _console(stderr=stderr)
    table = Table(title=f"plan {plan.hash[:12]}  ({len(plan.nodes)} jobs)", title_justify="left")
    for col in ("platform", "layers", "jobs", "skipped", "external", "broken cycles", "makespan"):
        table.add_column(col, justify="left" if col == "platform" else "right")
    boot_lanes: dict[str, int] = {}
    by_id = {n.id: n for n in plan.nodes}
    for e in plan.bootstrap_edges:
        node = by_id.get(e.target)
        if node is not None:
            boot_lanes[node.lane] = boot_lanes.get(node.lane, 0) + 1
    for platform, layers in sorted(plan.layers.items()):
        jobs = [n for n in plan.nodes if n.lane == platform]
        table.add_row(
            platform,
            str(sum(1 for layer in layers if layer)),
            str(sum(1 for n in jobs if not n.skipped)),
            str(sum(1 for n in jobs if n.skipped)),
            str(len(plan.external.get(platform, ()))),
            str(boot_lanes.get(platform, 0)),
            makespan_text(plan, platform),
        )
    console.print(table)
    if plan.inputs.get("durations"):  # where the makespan's durations came from (planner/plan/inputs.py)
        console.print(f"durations: {plan.inputs['durations']}", markup=False, soft_wrap=True, highlight=False)
    print_warning_summary(console, plan.warnings)
    if plan.errors:
        console.print(f"[red]{len(plan.errors)} recipe(s) failed to render:[/]", markup=True)
        for err in plan.errors[:20]:
            console.print(f"  {err}", markup=False, soft_wrap=True)


def print_warning_summary(console, warnings) -> None:
    """Warnings by kind (counts), then the first few of each kind; the changed ones first (the plan
    orders them so), every one of them is in the plan JSON."""
    from planner.plan.model import WARNING_KINDS

    if not warnings:
        return
    counts: dict[str, int] = {}
    for w in warnings:
        counts[w.kind] = counts.get(w.kind, 0) + 1
    kinds = sorted(counts, key=lambda k: WARNING_KINDS.index(k) if k in WARNING_KINDS else len(WARNING_KINDS))
    summary = ", ".join(f"{counts[k]} {k}" for k in kinds)
    console.print(f"[yellow]{len(warnings)} warning(s):[/] {summary}", markup=True, soft_wrap=True)
    shown: dict[str, int] = {}
    for w in warnings:
        if shown.get(w.kind, 0) >= 5:
            continue
        shown[w.kind] = shown.get(w.kind, 0) + 1
        mark = " (changed)" if w.changed else ""
        console.print(f"  {w.kind}{mark}: {w.detail}", markup=False, soft_wrap=True)
    hidden = len(warnings) - sum(shown.values())
    if hidden:
        console.print(f"  ... and {hidden} more (every warning is in the plan JSON)", markup=False)


@selection()
def plan(
    root: RootArg,
    output: OutputOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary table.")] = False,
    *,
    sel: Selection,
) -> None:
    """Plan what builds where and in which order: the plan JSON on stdout (or -o FILE), a summary per
    platform (on stderr when the JSON goes to stdout).

    With no selection flag every recipe under ROOT is planned. Examples:

      stackplan plan recipes/ -o plan.json

      stackplan plan . --changed origin/main...HEAD --downstream -p linux-64 -p osx-arm64

      stackplan plan . --package samtools --downstream=1 --skip-existing ./channel -q | jq .makespan
    """
    result = _make_plan(sel.request(root))
    write_output(result.to_json(), output)
    if not quiet:
        _summary(result, stderr=to_stdout(output))
        if not to_stdout(output):
            _console().print(f"plan written to {output}")


@selection()
def graph(
    source: Annotated[
        Path, typer.Argument(metavar="SOURCE", help="A recipe tree (planned first) or a plan JSON file.")
    ],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json | dot | graphml | mermaid | markdown | html")
    ] = "json",
    output: OutputOpt = None,
    *,
    sel: Selection,
) -> None:
    """Export the plan graph: json, dot, graphml, mermaid, markdown or a self-contained html page.

    Examples:

      stackplan graph plan.json --format html -o plan.html

      stackplan graph recipes/ --package samtools --downstream --format dot | dot -Tsvg > plan.svg
    """
    from planner.export import FORMATS, export

    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; expected one of: {', '.join(sorted(FORMATS))}", ExitCode.USAGE)
    if source.is_file():
        _no_plan_flags(source, sel)
        the_plan = read_plan(source)
    else:
        the_plan = _make_plan(sel.request(source))
    write_output(export(the_plan, fmt), output)


def _no_plan_flags(plan_file: Path, sel: Selection) -> None:
    given = sel.given()
    if given:
        fail(f"{plan_file} is a plan JSON; plan flags ({', '.join(given)}) apply to a recipe tree only")


@selection(without=("changed", "changed_files"))
def preview(
    base: Annotated[str, typer.Option("--base", help="The PR's base ref (e.g. origin/main).")],
    root: Annotated[
        Path, typer.Argument(metavar="ROOT", help="Recipe tree inside the git work tree.")
    ] = Path("."),
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="The PR's head ref. Given: its recipes are read from a temporary checkout of that commit"
            " (the work tree is left alone). Default: HEAD, read from the work tree.",
        ),
    ] = None,
    output: OutputOpt = None,
    *,
    sel: Selection,
) -> None:
    """Print the Markdown body of a PR comment: what the PR builds where, in which layer, and why.

    Recipes changed since the merge base of --base and --head are selected with all their dependents
    (--downstream=N stops N edges away). The comment always fits GitHub's 65,536 characters.

    Without --head the recipes are read from the work tree (the PR head checked out, as in CI); with
    --head REF they are read from a temporary git worktree of REF, removed afterwards.

    Examples:

      stackplan preview --base origin/main > comment.md

      stackplan preview --base main --head my-feature-branch --downstream=1
    """
    from planner.plan.select import UNLIMITED

    depth = UNLIMITED if sel.downstream_depth is None else sel.downstream_depth
    request = sel.request(root, changed=f"{base}...{head or 'HEAD'}", downstream=depth)
    from planner.export.markdown import to_markdown

    if head is None:
        the_plan = _make_plan(request)
    else:
        from planner.plan.at import build_plan_at

        the_plan = _make_plan(
            request, lambda r, reporter: build_plan_at(r, head, reporter=reporter, store_with=store_with(r))
        )
    write_output(to_markdown(the_plan), output)
    if the_plan.inputs.get("durations"):  # on stderr: the comment is public, the source may be a local path
        sys.stderr.write(f"durations: {the_plan.inputs['durations']}\n")


@selection()
def explain(
    job: Annotated[
        str, typer.Argument(metavar="JOB", help="A job id, id prefix, output name or recipe dir.")
    ],
    root: Annotated[
        Path | None, typer.Argument(metavar="ROOT", help="Recipe tree to plan (or give --plan).")
    ] = None,
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Explain from this plan JSON.")] = None,
    *,
    sel: Selection,
) -> None:
    """Explain why a job is in the plan (the chain from a changed recipe) and what it waits for.

    Examples:

      stackplan explain samtools --plan plan.json

      stackplan explain 'bcftools-1.20-0@linux-64' . --changed main..HEAD --downstream
    """
    from planner.plan.explain import explain as explain_job

    if plan_file is not None:
        _no_plan_flags(plan_file, sel)
        the_plan = read_plan(plan_file)
    elif root is not None:
        the_plan = _make_plan(sel.request(root))
    else:
        fail("give a recipe tree ROOT or --plan plan.json", ExitCode.USAGE)
    found = explain_job(the_plan, job)
    if not found:
        fail(f"no job matching {job!r} in the plan ({len(the_plan.nodes)} jobs)", ExitCode.FAILED)
    console = _console()
    for i, item in enumerate(found):
        if i:
            console.print()
        for line in item.lines():
            console.print(line, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("plan", cls=SelectionCommand)(plan)
    app.command("graph", cls=SelectionCommand)(graph)
    app.command("preview", cls=SelectionCommand)(preview)
    app.command("explain", cls=SelectionCommand)(explain)
