"""The plan: from a recipe tree and a selection to a :class:`planner.plan.model.Plan`.

:func:`build_plan` runs the stages in order (config, discover, render, graph, cycles, selection,
pruning, layers) and :func:`assemble_plan` is the pure part after rendering, so tests and benchmarks
can feed rendered recipes directly. Identical inputs give byte-identical ``Plan.to_json()``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import networkx as nx

from planner import __version__
from planner.errors import PlanError
from planner.gc_pause import gc_paused
from planner.graph.cycles import CycleError, break_cycles, find_cycles
from planner.graph.link import GraphResult, Job, build_graph, jobs_from_renders
from planner.graph.snapshot import Linked, sorted_errors
from planner.matchspec import SpecCache
from planner.model import PlatformRender, RecipeError
from planner.plan.inputs import gather
from planner.plan.layers import critical_paths, lane_layers, layer_numbers
from planner.plan.model import OutputRef, Plan, PlanEdge, PlanNode, PlanWarning, SelectKind
from planner.plan.request import PlanRequest, PlanSettings, RecipeTree
from planner.plan.select import Selection, carry_edges, select
from planner.plan.tags import package_tag, recipe_tag
from planner.progress import NullReporter, Reporter

#: Selection kinds that mean "the selection changed this job" (its warnings are listed first).
CHANGED_KINDS = frozenset({SelectKind.CHANGED, SelectKind.EXPLICIT, SelectKind.CONFIG_CHANGE})


def unknown_packages_message(graph: nx.DiGraph, unknown: list[str]) -> str:
    """``--package`` names that match no job, each with the closest names that exist (did you mean)."""
    import difflib

    names: set[str] = set()
    for node in graph.nodes:
        job = graph.nodes[node]["job"]
        names.update(job.names)
        names.update((job.recipe, job.recipe.rsplit("/", 1)[-1]))
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)
        parts.append(f"{name!r}" + (f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""))
    return f"--package matches no recipe or output: {'; '.join(parts)}"


def assemble_plan(
    renders: Iterable[PlatformRender] | Linked, selection: Selection, settings: PlanSettings
) -> tuple[Plan, GraphResult]:
    """Graph, cycles, selection, pruning, layers and critical paths of rendered recipes.

    ``renders`` may also be a :class:`planner.graph.snapshot.Linked` (what :func:`link` made of the
    same renders, e.g. loaded from a snapshot): the plan is the same either way.
    Raises :class:`planner.graph.cycles.CycleError` under ``strict_cycles`` when the graph has a cycle.
    The garbage collector is paused meanwhile (:mod:`planner.gc_pause`).
    """
    with gc_paused():
        linked = renders if isinstance(renders, Linked) else link(renders, settings)
        return _assemble_plan(linked, selection, settings)


def link(renders: Iterable[PlatformRender], settings: PlanSettings) -> Linked:
    """The render errors and the job graph of ``renders`` (no cycle broken, nothing selected yet).

    What this returns depends only on the renders and the settings it reads (platforms, noarch and
    build platforms, providers): :mod:`planner.graph.snapshot` keeps it between runs on that basis.
    """
    renders = list(renders)
    recipe_errors: dict[str, list[RecipeError]] = {}
    for r in renders:
        if r.error is not None:
            recipe_errors.setdefault(r.recipe, []).append(r.error)
    rendered = [v for r in renders if r.ok for v in r.variants]
    jobs = jobs_from_renders(
        rendered,
        noarch_platform=settings.noarch_platform,
        build_platforms=settings.build_platforms,
    )
    links: dict[str, Any] = {}
    result = build_graph(jobs, platforms=settings.platforms, providers=settings.providers, links_out=links)
    errors = {k: tuple(v) for k, v in recipe_errors.items()}
    return Linked(sorted_errors(errors), result, errors, links)


def _assemble_plan(linked: Linked, selection: Selection, settings: PlanSettings) -> tuple[Plan, GraphResult]:
    result = linked.result
    graph = result.graph
    if settings.strict_cycles:
        cycles = find_cycles(graph)
        if cycles:
            raise CycleError(cycles)
    all_cycles = break_cycles(graph)
    chosen = select(graph, selection)
    if chosen.unknown_packages:
        raise PlanError(unknown_packages_message(graph, chosen.unknown_packages))
    # a cycle matters to this plan when one of its jobs is in it
    cycles = [
        c
        for c in all_cycles
        if any(e.source in chosen.selected for e in c.edges)
        or any(n in chosen.selected for b in c.broke for n in b)
    ]
    bootstrap = [
        PlanEdge(c.dropped[0], c.dropped[1], *_phase_spec(c, c.dropped), cycles=c.broke, closes=c.closes)
        for c in cycles
    ]
    active = chosen.active
    edges = carry_edges(graph, active)
    dag = nx.DiGraph()
    dag.add_nodes_from(sorted(active))
    dag.add_edges_from((e.source, e.target) for e in edges)
    numbers = layer_numbers(dag)
    job_of: dict[str, Job] = {n: graph.nodes[n]["job"] for n in chosen.selected}
    lanes = {n: job_of[n].lane for n in active}
    layers = lane_layers(numbers, lanes, settings.platforms)
    durations = _durations(job_of, settings.durations)
    paths, spans = critical_paths(dag, {n: durations[n] for n in active}, lanes)
    for platform in layers:
        spans.setdefault(platform, 0.0)
        paths.setdefault(platform, ())
    external: dict[str, set[str]] = defaultdict(set)
    for node in sorted(active):
        external[lanes[node]].update(result.external.get(node, ()))
    nodes = tuple(
        _node(
            job_of[n],
            chosen.selected[n],
            chosen.skipped.get(n),
            numbers.get(n, -1),
            durations[n],
            settings,
            tuple(sorted(result.external.get(n, ()))) if n in active else (),
        )
        for n in sorted(chosen.selected)
    )
    changed_jobs = {n for n, why in chosen.selected.items() if why.kind in CHANGED_KINDS}
    changed_names = {o.name for n in changed_jobs for o in job_of[n].outputs}
    names_cache = SpecCache()
    warnings = [
        *(PlanWarning("config", w) for w in settings.warnings),
        *(
            PlanWarning("ambiguous", a.message(), spec=a.name, related=a.candidates)
            for a in result.ambiguities
        ),
        *(_cycle_warning(c) for c in cycles),
        *_unsatisfied_warnings(result, active, changed_jobs),
        *_lane_cycle_warnings(edges, lanes),
        *(
            PlanWarning("invalid-spec", f"invalid requirement {raw!r} in {job}", job=job, spec=raw)
            for job, raw in sorted(set(result.invalid_specs))
            if job in active
        ),
    ]
    warnings = sorted(
        (_mark_changed(w, changed_jobs, changed_names, names_cache) for w in warnings),
        key=PlanWarning.sort_key,
    )
    plan = Plan(
        root=settings.root,
        platforms=settings.platforms,
        nodes=nodes,
        edges=tuple(edges),
        layers=layers,
        critical_path=paths,
        makespan=spans,
        external={p: tuple(sorted(external.get(p, ()))) for p in layers},
        bootstrap_edges=tuple(bootstrap),
        warnings=tuple(warnings),
        errors=linked.errors,
        inputs=dict(settings.inputs),
        stackplan_version=__version__,
    )
    return plan.with_hash(), result


def _phase_spec(cycle, pair: tuple[str, str]) -> tuple[str, str]:
    for e in cycle.edges:
        if (e.source, e.target) == pair:
            return e.phase, e.spec
    return "run", ""


def _durations(jobs: Mapping[str, Job], known: Mapping[str, float] | None) -> dict[str, float]:
    """Seconds per job from the durations file (by ``recipe@platform``, as ``stackplan history
    --learn-durations`` writes them, then recipe dir, then output name); unknown jobs get the median of
    the file, and with no file every job costs one unit."""
    if not known:
        return {n: 1.0 for n in jobs}
    default = float(statistics.median(known.values()))
    out = {}
    for node, job in jobs.items():
        value = known.get(f"{job.recipe}@{job.platform}")
        if value is None:
            value = known.get(job.recipe)
        if value is None:
            value = next((known[o.name] for o in job.outputs if o.name in known), default)
        out[node] = float(value)
    return out


def _node(
    job: Job,
    selected,
    skipped,
    layer: int,
    duration: float,
    settings: PlanSettings,
    from_channel: tuple[str, ...],
) -> PlanNode:
    variant = job.variant.to_dict()
    gpu = job.test_on == "gpu" or any(variant.get(k) not in (None, "None") for k in settings.gpu_variant_keys)
    pool = job.build_platform
    return PlanNode(
        id=job.id,
        recipe=job.recipe,
        format=job.format,
        platform=job.platform,
        build_platform=job.build_platform,
        variant=variant,
        outputs=tuple(OutputRef(o.name, o.version, o.build_number, o.noarch) for o in job.outputs),
        selected=selected,
        skipped=skipped,
        layer=layer,
        duration_estimate=duration,
        pool=pool,
        test_pool="gpu" if gpu else pool,
        tags=tuple(sorted({package_tag(o.name) for o in job.outputs} | {recipe_tag(job.recipe)})),
        from_channel=from_channel,
    )


def _lane_cycle_warnings(edges: Iterable[PlanEdge], lanes: Mapping[str, str]) -> list[PlanWarning]:
    """A warning when the lanes (build platforms) wait for each other in a circle.

    The flows run one subflow per lane and start a lane once every lane it needs has finished, so
    lanes must form a DAG. Plans with native and config-wide cross-compiling always do (edges leave a
    lane only out of a noarch job); a job cross-compiled on its own (a render's ``build_platform``)
    next to native jobs of its target, or a build platform that is itself cross-compiled, can break it.
    """
    between = nx.DiGraph()
    for e in edges:
        a, b = lanes[e.source], lanes[e.target]
        if a != b:
            between.add_edge(a, b)
    if nx.is_directed_acyclic_graph(between):
        return []
    cycle = nx.find_cycle(between, source=sorted(between))
    path = " -> ".join([cycle[0][0], *(v for _, v, *_ in cycle)])
    return [
        PlanWarning(
            "lane-cycle",
            f"lanes wait for each other in a cycle ({path}): the flows cannot order these platforms'"
            " subflows; build the cross-compiled jobs on one build platform (build_platforms: in"
            " stackplan.yaml)",
            related=tuple(v for _, v, *_ in cycle),
        )
    ]


def _cycle_warning(cycle) -> PlanWarning:
    """A broken cycle: the dropped edge (job = its target, spec = the requirement) and the cycle."""
    source, target = cycle.dropped
    _, spec = _phase_spec(cycle, cycle.dropped)
    return PlanWarning(
        "cycle",
        f"cycle broken by dropping {source} -> {target}: {cycle.describe()}",
        job=target,
        spec=spec,
        platform=",".join(cycle.platforms),
        related=tuple(dict.fromkeys(e.source for e in cycle.edges)),
    )


def _unsatisfied_warnings(result: GraphResult, active: set[str], changed: set[str]) -> list[PlanWarning]:
    """One warning per (job, requirement, platform) that names a recipe but no build of it fits.

    When a job the selection changed is among the candidates, the warning is ``pin-broken``: the
    change makes the dependent's pin unsatisfiable by the tree (it will be taken from the channel),
    and that is said even when the dependent is not in the plan (no edge led to it).
    """
    out = []
    seen: set[tuple[str, str, str, str]] = set()
    for u in result.unsatisfied:
        broken = tuple(c for c in u.candidates if c in changed)
        if (u.job not in active and not broken) or (u.job, u.phase, u.spec, u.platform) in seen:
            continue  # a dependent outside the plan matters when a changed job broke its pin
        seen.add((u.job, u.phase, u.spec, u.platform))
        if broken:
            out.append(
                PlanWarning(
                    "pin-broken",
                    f"{', '.join(broken)} no longer satisfies {u.phase} requirement {u.spec!r} of {u.job}"
                    f" on {u.platform}: taken from the channel",
                    job=u.job,
                    spec=u.spec,
                    platform=u.platform,
                    related=broken,
                )
            )
        else:
            out.append(
                PlanWarning(
                    "unsatisfied",
                    f"{u.phase} requirement {u.spec!r} of {u.job} on {u.platform}: no recipe build fits"
                    " (version or variant); taken from the channel",
                    job=u.job,
                    spec=u.spec,
                    platform=u.platform,
                    related=u.candidates,
                )
            )
    return out


def _mark_changed(w: PlanWarning, jobs: set[str], names: set[str], cache: SpecCache) -> PlanWarning:
    """Flag a warning about a changed job, or about a requirement / name the selection changed."""
    spec = cache.try_parse(w.spec) if w.spec else None
    name = spec.name if spec is not None else w.spec
    if w.job in jobs or name in names or any(r in jobs for r in w.related):
        return replace(w, changed=True)
    return w


def store_now(save: Callable[[], None]) -> None:
    """Store a graph snapshot in this process, at once (the library's default)."""
    save()


def build_plan(
    request: PlanRequest,
    *,
    reporter: Reporter | None = None,
    tree: RecipeTree | None = None,
    store_with: Callable[[Callable[[], None]], None] = store_now,
) -> Plan:
    """Make the plan a request asks for (see :class:`PlanRequest`).

    ``tree``: a :class:`planner.git.commit_tree.CommitTree` when the recipes are read from a git commit
    (``request.root`` then lies under its directory; see :mod:`planner.plan.at`).
    ``store_with(save)``: how the graph snapshot for the next run is stored. It must call ``save``
    at once, or in a copy of this process made at once (a fork: the command line stores it in a
    background child, so a preview does not wait ~0.5 s for a file only the *next* run reads); the
    graph is cut at its cycles right after.
    Raises :class:`PlanError` for bad input and :class:`planner.graph.cycles.CycleError` under
    ``strict_cycles``. Recipes that fail to render are reported in ``Plan.errors``, never raised.
    """
    reporter = reporter or NullReporter()
    renders, selection, settings, snapshot = gather(request, reporter, tree=tree)
    if snapshot is not None:
        with gc_paused():
            if not isinstance(renders, Linked):
                renders = link(renders, settings)
            linked = renders
            store_with(lambda: snapshot(linked))  # before cycles are broken: the snapshot is uncut
    plan, _ = assemble_plan(renders, selection, settings)
    return plan


__all__ = [
    "CycleError",
    "PlanError",
    "PlanRequest",
    "PlanSettings",
    "RecipeError",
    "assemble_plan",
    "build_plan",
]
