"""``stackplan plan``, ``graph``, ``preview`` and ``explain``: the plan, its exports and explanations.

A thin shell: options become a :class:`planner.plan.build.PlanRequest` (``plan_options``), the planner
makes the plan, rich prints the summary. No Prefect import anywhere here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from stackplan.cli.plan_options import (
    CacheDirOpt,
    ChangedFilesOpt,
    ChangedOpt,
    ConfigOpt,
    DownstreamDepthOpt,
    DownstreamOpt,
    DurationsOpt,
    ExcludeOpt,
    ExclusiveConfigOpt,
    JobsOpt,
    NoarchPlatformOpt,
    NoCacheOpt,
    PackageOpt,
    PlatformOpt,
    ProviderOpt,
    SelectionCommand,
    SkipExistingOpt,
    SkiplistOpt,
    StrictCyclesOpt,
    UpstreamOpt,
    VariantConfigOpt,
    make_request,
)
from stackplan.cli.progress import reporter_for

OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")]


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(code)


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
    # no terminal: no bar, and rich is not even imported (a warm preview is ~1.5 s in all)
    reporter = reporter_for()
    from planner.gc_pause import one_shot_process

    try:
        with one_shot_process():  # this process plans once and exits (see its docstring)
            return make(request, reporter)
    except CycleError as exc:
        raise _fail(f"{exc}\n(--strict-cycles: not breaking them)", 3) from None
    except (PlanError, NotADirectoryError) as exc:
        raise _fail(str(exc)) from None


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _summary(plan) -> None:
    from rich.table import Table


    console = _console()
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
            f"{plan.makespan.get(platform, 0):g}",
        )
    console.print(table)
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


def plan(
    root: Annotated[
        Path, typer.Argument(help="Recipe tree (feedstocks, recipes/<name>/, or one recipe dir).")
    ],
    output: OutputOpt = None,
    platform: PlatformOpt = None,
    variant_config: VariantConfigOpt = None,
    exclusive_config: ExclusiveConfigOpt = None,
    config: ConfigOpt = None,
    jobs: JobsOpt = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    changed: ChangedOpt = None,
    changed_files: ChangedFilesOpt = None,
    package: PackageOpt = None,
    downstream: DownstreamOpt = False,
    downstream_depth: DownstreamDepthOpt = None,
    upstream: UpstreamOpt = False,
    exclude: ExcludeOpt = None,
    skiplist: SkiplistOpt = None,
    skip_existing: SkipExistingOpt = None,
    strict_cycles: StrictCyclesOpt = False,
    durations: DurationsOpt = None,
    provider: ProviderOpt = None,
    noarch_platform: NoarchPlatformOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary table.")] = False,
) -> None:
    """Plan what builds where and in which order; print a summary per platform, write the plan JSON.

    With no selection flag every recipe under ROOT is planned. Examples:

      stackplan plan recipes/ -o plan.json

      stackplan plan . --changed origin/main...HEAD --downstream -p linux-64 -p osx-arm64

      stackplan plan . --package samtools --downstream=1 --skip-existing ./channel
    """
    request = make_request(
        root,
        platform=platform,
        variant_config=variant_config,
        exclusive_config=exclusive_config,
        config=config,
        changed=changed,
        changed_files=changed_files,
        package=package,
        downstream=downstream,
        downstream_depth=downstream_depth,
        upstream=upstream,
        exclude=exclude,
        skiplist=skiplist,
        skip_existing=skip_existing,
        provider=provider,
        noarch_platform=noarch_platform,
        strict_cycles=strict_cycles,
        durations=durations,
        jobs=jobs,
        cache_dir=cache_dir,
        no_cache=no_cache,
    )
    result = _make_plan(request)
    if output is not None:
        output.write_text(result.to_json(), encoding="utf-8")
    if not quiet:
        _summary(result)
        if output is not None:
            _console().print(f"plan written to {output}")


def graph(
    source: Annotated[Path, typer.Argument(help="A recipe tree (planned first) or a plan JSON file.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json | dot | graphml | mermaid | markdown | html")
    ] = "json",
    output: OutputOpt = None,
    platform: PlatformOpt = None,
    variant_config: VariantConfigOpt = None,
    exclusive_config: ExclusiveConfigOpt = None,
    config: ConfigOpt = None,
    jobs: JobsOpt = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    changed: ChangedOpt = None,
    changed_files: ChangedFilesOpt = None,
    package: PackageOpt = None,
    downstream: DownstreamOpt = False,
    downstream_depth: DownstreamDepthOpt = None,
    upstream: UpstreamOpt = False,
    exclude: ExcludeOpt = None,
    skip_existing: SkipExistingOpt = None,
    provider: ProviderOpt = None,
    noarch_platform: NoarchPlatformOpt = None,
) -> None:
    """Export the plan graph: json, dot, graphml, mermaid, markdown or a self-contained html page.

    Examples:

      stackplan graph plan.json --format html -o plan.html

      stackplan graph recipes/ --package samtools --downstream --format dot | dot -Tsvg > plan.svg
    """
    from planner.export import FORMATS, export
    from planner.plan.model import Plan

    if fmt not in FORMATS:
        raise _fail(f"unknown format {fmt!r}; expected one of: {', '.join(sorted(FORMATS))}", 2)
    if source.is_file():
        try:
            the_plan = Plan.from_json(source.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            raise _fail(f"{source}: not a stackplan plan JSON ({exc})") from None
    else:
        the_plan = _make_plan(
            make_request(
                source,
                platform=platform,
                variant_config=variant_config,
                exclusive_config=exclusive_config,
                config=config,
                changed=changed,
                changed_files=changed_files,
                package=package,
                downstream=downstream,
                downstream_depth=downstream_depth,
                upstream=upstream,
                exclude=exclude,
                skip_existing=skip_existing,
                provider=provider,
                noarch_platform=noarch_platform,
                jobs=jobs,
                cache_dir=cache_dir,
                no_cache=no_cache,
            )
        )
    _write(export(the_plan, fmt), output)


def preview(
    base: Annotated[str, typer.Option("--base", help="The PR's base ref (e.g. origin/main).")],
    root: Annotated[Path, typer.Argument(help="Recipe tree inside the git work tree.")] = Path("."),
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            help="The PR's head ref. Given: its recipes are read from a temporary checkout of that commit"
            " (the work tree is left alone). Default: HEAD, read from the work tree.",
        ),
    ] = None,
    output: OutputOpt = None,
    platform: PlatformOpt = None,
    variant_config: VariantConfigOpt = None,
    exclusive_config: ExclusiveConfigOpt = None,
    config: ConfigOpt = None,
    jobs: JobsOpt = None,
    cache_dir: CacheDirOpt = None,
    no_cache: NoCacheOpt = False,
    downstream_depth: DownstreamDepthOpt = None,
    exclude: ExcludeOpt = None,
    skiplist: SkiplistOpt = None,
    skip_existing: SkipExistingOpt = None,
    provider: ProviderOpt = None,
    noarch_platform: NoarchPlatformOpt = None,
) -> None:
    """Print the Markdown body of a PR comment: what the PR builds where, in which layer, and why.

    Recipes changed since the merge base of --base and --head are selected with all their dependents.

    --downstream=N stops N edges away. Without --head the recipes are read from the work tree (the
    PR head checked out, as in CI); with --head REF they are read from a temporary git worktree of
    REF, removed afterwards.

    Examples:

      stackplan preview --base origin/main > comment.md

      stackplan preview --base main --head my-feature-branch
    """
    request = make_request(
        root,
        platform=platform,
        variant_config=variant_config,
        exclusive_config=exclusive_config,
        config=config,
        changed=f"{base}...{head or 'HEAD'}",
        downstream=True,
        downstream_depth=downstream_depth,
        exclude=exclude,
        skiplist=skiplist,
        skip_existing=skip_existing,
        provider=provider,
        noarch_platform=noarch_platform,
        jobs=jobs,
        cache_dir=cache_dir,
        no_cache=no_cache,
    )
    from planner.export.markdown import to_markdown

    if head is None:
        the_plan = _make_plan(request)
    else:
        from planner.plan.at import build_plan_at

        the_plan = _make_plan(
            request, lambda r, reporter: build_plan_at(r, head, reporter=reporter, store_with=store_with(r))
        )
    _write(to_markdown(the_plan), output)


def explain(
    job: Annotated[str, typer.Argument(help="A job id, id prefix, output name or recipe dir.")],
    root: Annotated[Path | None, typer.Argument(help="Recipe tree to plan (or give --plan).")] = None,
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Explain from this plan JSON.")] = None,
    platform: PlatformOpt = None,
    variant_config: VariantConfigOpt = None,
    exclusive_config: ExclusiveConfigOpt = None,
    config: ConfigOpt = None,
    changed: ChangedOpt = None,
    changed_files: ChangedFilesOpt = None,
    package: PackageOpt = None,
    downstream: DownstreamOpt = False,
    downstream_depth: DownstreamDepthOpt = None,
    upstream: UpstreamOpt = False,
    exclude: ExcludeOpt = None,
    skip_existing: SkipExistingOpt = None,
    provider: ProviderOpt = None,
    noarch_platform: NoarchPlatformOpt = None,
) -> None:
    """Explain why a job is in the plan (the chain from a changed recipe) and what it waits for.

    Examples:

      stackplan explain samtools --plan plan.json

      stackplan explain 'bcftools-1.20-0@linux-64' . --changed main..HEAD --downstream
    """
    from planner.plan.explain import explain as explain_job
    from planner.plan.model import Plan

    if plan_file is not None:
        try:
            the_plan = Plan.from_json(plan_file.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _fail(f"{plan_file}: cannot read the plan ({exc})") from None
    elif root is not None:
        the_plan = _make_plan(
            make_request(
                root,
                platform=platform,
                variant_config=variant_config,
                exclusive_config=exclusive_config,
                config=config,
                changed=changed,
                changed_files=changed_files,
                package=package,
                downstream=downstream,
                downstream_depth=downstream_depth,
                upstream=upstream,
                exclude=exclude,
                skip_existing=skip_existing,
                provider=provider,
                noarch_platform=noarch_platform,
            )
        )
    else:
        raise _fail("give a recipe tree ROOT or --plan plan.json", 2)
    found = explain_job(the_plan, job)
    if not found:
        raise _fail(f"no job matching {job!r} in the plan ({len(the_plan.nodes)} jobs)")
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
