"""The job graph: which build job must finish before which, across recipes, platforms and variants.

One node per build job (recipe x platform x variant, see :class:`Job`); an edge ``dep -> job`` when a
build / host / run / test requirement of ``job`` is satisfied by an output of ``dep``:

- the name matches and the version constraint accepts the output's version (conda semantics,
  :mod:`planner.matchspec`: ``numpy >=2`` is not satisfied by a recipe that builds numpy 1.26);
- on the same platform (a noarch job serves every platform; build-phase requirements of a
  cross-compiled job resolve on its build platform);
- with variant values agreeing on the keys both jobs use (scipy[python 3.12] waits for
  numpy[python 3.12], not numpy[python 3.11]).

Graph functions are plain functions over ``networkx.DiGraph``; node attribute ``job`` holds the
:class:`Job`, edge attributes ``phase`` (the strongest phase) and ``reasons`` (every (phase, spec)).

A three-node example (``a`` builds libA, ``b`` needs it in host, ``c`` needs b at run time)::

    >>> from planner.model import RenderedOutput, RenderedRecipe, RecipeFormat, Requirements, Variant
    >>> def r(name, *, host=(), run=()):
    ...     out = RenderedOutput(name, "1.0", 0, requirements=Requirements(host=host, run=run))
    ...     return RenderedRecipe(f"recipes/{name}", RecipeFormat.V0, "linux-64", Variant(), (out,))
    >>> result = build_graph(jobs_from_renders([r("a"), r("b", host=("a",)), r("c", run=("b >=1",))]))
    >>> name = lambda n: result.graph.nodes[n]["job"].name
    >>> [(name(u), name(v)) for u, v in result.graph.edges]
    [('a', 'b'), ('b', 'c')]
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import networkx as nx

from planner.gc_pause import gc_paused
from planner.matchspec import Spec, SpecCache
from planner.model import EDGE_PHASES, RecipeFormat, RenderedOutput, RenderedRecipe, Variant
from planner.platforms import BUILD_SUBDIRS, DEFAULT_NOARCH_BUILD_PLATFORM

#: Edge phase -> its strength rank (0 strongest), from :data:`planner.model.EDGE_PHASES`.
PHASE_RANK: dict[str, int] = {phase: rank for rank, phase in enumerate(EDGE_PHASES)}
#: "Not parsed yet" in the local spec memo of :func:`build_graph` (None means "invalid").
_UNPARSED = object()
#: Variant keys that name the platform itself: they differ across platforms by construction.
PLATFORM_KEYS = frozenset({"target_platform", "build_platform"})


@dataclass(frozen=True)
class Job:
    """One build job: a recipe on one platform with one variant; all its outputs build together.

    ``platform`` is the target subdir, or ``"noarch"`` for a job every output of which is noarch
    (built once, on ``build_platform``, and satisfying dependents on every platform). ``lane`` is the
    platform whose layers the job is drawn in: its **build** platform, the workers it runs on — a
    noarch job built on linux-64 and a linux-aarch64 job cross-compiled on linux-64 are both in the
    linux-64 lane, as in the flows (``flows/run/lanes.py``) and the work pools (``PlanNode.pool``).
    """

    id: str
    recipe: str
    format: RecipeFormat
    platform: str
    build_platform: str
    variant: Variant
    outputs: tuple[RenderedOutput, ...]
    skip: bool = False
    test_on: str | None = None
    #: The output names (precomputed: asked for every requirement of every job).
    names: frozenset[str] = field(init=False, repr=False, compare=False)
    #: The variant as a plain dict without platform keys (what variant agreement compares).
    shared_variant: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(o.name for o in self.outputs))
        shared = {k: v for k, v in self.variant.to_dict().items() if k not in PLATFORM_KEYS}
        if self.outputs and all(o.noarch == "python" for o in self.outputs):
            # python-version independent (conda-build: noarch: python builds once, "pyh..." build
            # strings without the python version): its render's python value does not tie it to
            # dependents of that one python
            shared.pop("python", None)
        object.__setattr__(self, "shared_variant", shared)

    @property
    def name(self) -> str:
        return self.outputs[0].name if self.outputs else self.recipe.rsplit("/", 1)[-1]

    @property
    def lane(self) -> str:
        return self.build_platform

    @property
    def is_noarch(self) -> bool:
        return self.platform == "noarch"


@dataclass(frozen=True)
class Ambiguity:
    """Several recipes provide one name; ``chosen`` was taken (see :func:`choose_provider`)."""

    name: str
    candidates: tuple[str, ...]  # recipe dirs, sorted
    chosen: str
    why: str

    def message(self) -> str:
        return f"{self.name} is provided by {', '.join(self.candidates)}; using {self.chosen} ({self.why})"


@dataclass(frozen=True)
class Unsatisfied:
    """A requirement whose name some recipe builds, but no build of it fits (version or variant)."""

    job: str
    phase: str
    spec: str
    platform: str
    candidates: tuple[str, ...]  # job ids that have the name


@dataclass
class GraphResult:
    """The graph plus what building it learned: externals per lane, ambiguities, unsatisfied specs."""

    graph: nx.DiGraph
    external: dict[str, set[str]] = field(default_factory=dict)  # job id -> names no recipe provides
    ambiguities: list[Ambiguity] = field(default_factory=list)
    unsatisfied: list[Unsatisfied] = field(default_factory=list)
    invalid_specs: list[tuple[str, str]] = field(default_factory=list)  # (job id, raw spec)


#: Canonical JSON (a constant encoder: building one per call is most of the cost of a small dump).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def variant_hash(variant: Mapping[str, str]) -> str:
    """First 8 hex digits of the SHA-256 of the variant's canonical JSON (stable across runs)."""
    text = _CANONICAL.encode(dict(variant.items()) if not isinstance(variant, dict) else variant)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def job_id(name: str, version: str, build_number: int, platform: str, variant: Mapping[str, str]) -> str:
    """``name-version-build@platform[variant-hash8]`` (the node id the plan and the flows use)."""
    return f"{name}-{version}-{build_number}@{platform}[{variant_hash(variant)}]"


def jobs_from_renders(
    renders: Iterable[RenderedRecipe],
    *,
    noarch_platform: str = DEFAULT_NOARCH_BUILD_PLATFORM,
    build_platforms: Mapping[str, str] | None = None,
    platform_order: Sequence[str] = BUILD_SUBDIRS,
) -> list[Job]:
    """Turn rendered recipe variants into jobs, sorted by id.

    A recipe whose every output is noarch gives one job however many platforms rendered it: the
    render from ``noarch_platform`` when there is one, else from the first platform in table order.
    Skipped outputs are dropped; a variant with no output left becomes a job with ``skip=True`` (kept
    so a selected recipe can be reported as skipped on that platform). ``build_platforms`` maps a
    target subdir to the subdir it is cross-compiled on.
    """
    build_platforms = build_platforms or {}
    order = {p: i for i, p in enumerate(platform_order)}
    noarch_seen: dict[tuple[str, Variant, tuple], tuple[int, RenderedRecipe]] = {}
    plain: list[RenderedRecipe] = []
    for rendered in renders:
        outputs = tuple(o for o in rendered.outputs if not o.skip)
        if outputs and not rendered.skip and rendered.noarch:
            variant = Variant({k: v for k, v in rendered.variant.items() if k not in PLATFORM_KEYS})
            key = (rendered.recipe, variant, tuple((o.name, o.version, o.build_number) for o in outputs))
            rank = -1 if rendered.platform == noarch_platform else order.get(rendered.platform, len(order))
            if key not in noarch_seen or rank < noarch_seen[key][0]:
                noarch_seen[key] = (rank, rendered)
        else:
            plain.append(rendered)
    jobs: list[Job] = []
    for rendered in plain:
        outputs = () if rendered.skip else tuple(o for o in rendered.outputs if not o.skip)
        build = rendered.build_platform or build_platforms.get(rendered.platform, rendered.platform)
        jobs.append(_job(rendered, outputs, rendered.platform, build, rendered.variant, skip=not outputs))
    for (_, variant, _), (_, rendered) in noarch_seen.items():
        outputs = tuple(o for o in rendered.outputs if not o.skip)
        jobs.append(_job(rendered, outputs, "noarch", noarch_platform, variant, skip=False))
    return _unique_ids(jobs)


def _job(
    rendered: RenderedRecipe,
    outputs: tuple[RenderedOutput, ...],
    platform: str,
    build_platform: str,
    variant: Variant,
    *,
    skip: bool,
) -> Job:
    shown = outputs or rendered.outputs
    first = shown[0] if shown else None
    name = first.name if first else rendered.recipe.rsplit("/", 1)[-1]
    version = first.version if first else "0"
    build_number = first.build_number if first else 0
    test_on = next((o.test_on for o in outputs if o.test_on), None)
    return Job(
        id=job_id(name, version, build_number, platform, variant.to_dict()),
        recipe=rendered.recipe,
        format=rendered.format,
        platform=platform,
        build_platform=build_platform,
        variant=variant,
        outputs=outputs,
        skip=skip,
        test_on=test_on,
    )


def _unique_ids(jobs: list[Job]) -> list[Job]:
    """Two recipe dirs can build the same name-version with the same variant: add the recipe to the hash."""
    counts: dict[str, int] = defaultdict(int)
    for job in jobs:
        counts[job.id] += 1
    fixed = []
    for job in jobs:
        if counts[job.id] > 1:
            head = job.id.rsplit("[", 1)[0]
            salted = {**job.variant.to_dict(), "__recipe__": job.recipe}
            job = replace(job, id=f"{head}[{variant_hash(salted)}]")
        fixed.append(job)
    return sorted(fixed, key=lambda j: j.id)


class _Provided(NamedTuple):
    """One output of one job that a requirement could be satisfied by (a tuple: millions are made
    for the whole corpus, and a frozen dataclass's ``__init__`` is several times slower)."""

    job: Job
    output: RenderedOutput


def provider_index(jobs: Iterable[Job], platforms: Iterable[str]) -> dict[str, dict[str, list[_Provided]]]:
    """platform -> package name -> the (job, output) pairs that build it there (noarch: everywhere)."""
    platforms = tuple(platforms)
    index: dict[str, dict[str, list[_Provided]]] = {p: {} for p in platforms}
    for job in jobs:
        if job.skip:
            continue
        pairs = [(output.name, _Provided(job, output)) for output in job.outputs]
        where = dict.fromkeys((*platforms, job.build_platform)) if job.is_noarch else (job.platform,)
        for platform in where:
            slot = index.get(platform)
            if slot is None:
                slot = index[platform] = {}
            for name, provided in pairs:
                found = slot.get(name)
                if found is None:
                    slot[name] = [provided]
                else:
                    found.append(provided)
    return index


def variants_agree(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """True when every key both variants hold (platform keys aside) has the same value.

    Hot: called for every candidate provider of every requirement; pass plain dicts
    (:attr:`Job.shared_variant`) for speed.
    """
    if len(a) > len(b):
        a, b = b, a
    for k, v in a.items():
        w = b.get(k)
        if w is not None and w != v and k not in PLATFORM_KEYS:
            return False
    return True


def choose_provider(
    name: str,
    by_recipe: Mapping[str, list[_Provided]],
    cache: SpecCache,
    providers: Mapping[str, str],
) -> tuple[str, str]:
    """Pick one recipe among several that satisfy a spec: the ``providers:`` override, else the
    highest version, else the first recipe dir in sorted order. Returns (recipe, why)."""
    override = providers.get(name)
    if override is not None and override in by_recipe:
        return override, "providers: override"

    def best(recipe: str):
        return max(cache.version_key(p.output.version) for p in by_recipe[recipe])

    chosen = max(sorted(by_recipe), key=best)  # max keeps the first of equals: the smallest dir
    return chosen, "highest version"


def requirement_phases(job: Job) -> list[tuple[str, str]]:
    """Every (phase, raw spec) a job needs, in phase order then as written; duplicates once."""
    seen: dict[tuple[str, str], None] = {}
    for output in job.outputs:
        req = output.requirements  # attributes, not ``phase(name)``: this runs for every job
        for raw in req.build:
            seen[("build", raw)] = None
        for raw in req.host:
            seen[("host", raw)] = None
        for raw in req.run:
            seen[("run", raw)] = None
        for raw in output.test_requires:
            seen[("test", raw)] = None
    return list(seen)


def resolve_platforms(job: Job, phase: str, platforms: Sequence[str]) -> tuple[str, ...]:
    """The platform on which a requirement of ``job`` in ``phase`` must be found.

    Build-phase requirements resolve on the build platform (cross-compiling); host / run / test on the
    target. A noarch job is built and tested on its build platform, so everything it needs resolves
    there; what its run requirements need on *other* platforms is added to its dependents there
    (see :func:`add_noarch_run_edges`).
    """
    if job.is_noarch:
        return (job.build_platform,)
    return (job.build_platform,) if phase == "build" else (job.platform,)


#: What linking one job found (plain tuples: a graph snapshot stores them, see ``planner.graph.relink``):
#: (edges as (dependency id, phase, raw spec), events in order — ("x", external name) |
#: ("u", Unsatisfied fields) | ("a", Ambiguity fields) —, invalid raw specs, names from a channel,
#: every requirement name the job asked the provider index for).
JobLinks = tuple


class _Record:
    """A sink for :func:`_resolve` that keeps what one job's linking found, in order."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def external(self, job_id: str, name: str) -> None:
        self.events.append(("x", name))

    def unsatisfied(self, u: Unsatisfied) -> None:
        self.events.append(("u", (u.job, u.phase, u.spec, u.platform, u.candidates)))

    def ambiguity(self, name: str, make) -> None:
        a = make()
        self.events.append(("a", (a.name, a.candidates, a.chosen, a.why)))


class _Apply:
    """A sink for :func:`_resolve` that writes into the result at once (noarch run edges)."""

    __slots__ = ("ambiguous", "result")

    def __init__(self, result: GraphResult, ambiguous: dict[str, Ambiguity]) -> None:
        self.result, self.ambiguous = result, ambiguous

    def external(self, job_id: str, name: str) -> None:
        self.result.external.setdefault(job_id, set()).add(name)

    def unsatisfied(self, u: Unsatisfied) -> None:
        self.result.unsatisfied.append(u)

    def ambiguity(self, name: str, make) -> None:
        if name not in self.ambiguous:
            self.ambiguous[name] = make()


_NO_LINKS: JobLinks = ((), (), (), (), ())


def link_job(
    job: Job,
    platforms: Sequence[str],
    index: Mapping[str, Mapping[str, list[_Provided]]],
    cache: SpecCache,
    providers: Mapping[str, str],
    spec_of: dict[str, dict[str, Spec | object | None]],
) -> JobLinks:
    """What one job's requirements resolve to against the provider index (see :data:`JobLinks`).

    It depends on the job and on the index entries of the names it asks for, nothing else: the
    basis of relinking only what a change touches (``planner.graph.relink``). Requirements are
    matched as the job's build tool matches them (:meth:`SpecCache.try_parse_requirement`: conda-build
    fuzzes ``openssl 3`` to ``openssl 3.*``); ``spec_of`` memoises that per recipe format.
    """
    if job.skip:
        return _NO_LINKS
    names = job.names
    # where each phase resolves (see resolve_platforms), looked up once per job, not per requirement
    (on_build,) = resolve_platforms(job, "build", platforms)
    (on_target,) = resolve_platforms(job, "host", platforms)
    empty: dict[str, list[_Provided]] = {}
    index_build, index_target = index.get(on_build, empty), index.get(on_target, empty)
    edges: list[tuple[str, str, str]] = []
    invalid: list[str] = []
    missing: dict[str, None] = {}
    asked: set[str] = set()
    record = _Record()
    dialect = job.format
    parse = cache.try_parse_requirement
    memo = spec_of.get(dialect)
    if memo is None:
        memo = spec_of[dialect] = {}
    for phase, raw in requirement_phases(job):
        spec = memo.get(raw, _UNPARSED)
        if spec is _UNPARSED:
            spec = memo[raw] = parse(raw, dialect)
        if spec is None:
            invalid.append(raw)
            continue
        name = spec.name
        if name in names:
            continue  # internal: the job builds it itself
        asked.add(name)
        building = phase == "build"
        if name not in (index_build if building else index_target):
            missing[name] = None  # the common case: from a channel
            continue
        platform = on_build if building else on_target
        for dep in _resolve(job, spec, phase, platform, index, cache, providers, record):
            edges.append((dep.id, phase, raw))
    return (tuple(edges), tuple(record.events), tuple(invalid), tuple(missing), tuple(sorted(asked)))


def fold_links(
    job_id: str,
    links: JobLinks,
    result: GraphResult,
    ambiguous: dict[str, Ambiguity],
    reasons: dict[tuple[str, str], set[tuple[str, str]]],
) -> None:
    """Apply one job's :data:`JobLinks` to the graph being built (jobs must come in id order)."""
    edges, events, invalid, missing, _ = links
    for raw in invalid:
        result.invalid_specs.append((job_id, raw))
    for kind, value in events:
        if kind == "x":
            result.external.setdefault(job_id, set()).add(value)
        elif kind == "u":
            result.unsatisfied.append(Unsatisfied(*value))
        elif value[0] not in ambiguous:
            ambiguous[value[0]] = Ambiguity(*value)
    for dep_id, phase, raw in edges:
        reasons[(dep_id, job_id)].add((phase, raw))
    if missing:
        result.external.setdefault(job_id, set()).update(missing)


@gc_paused()  # half the cost otherwise: the collector walks the renders' millions of objects
def build_graph(
    jobs: Iterable[Job],
    *,
    platforms: Sequence[str] | None = None,
    providers: Mapping[str, str] | None = None,
    cache: SpecCache | None = None,
    known: Mapping[str, JobLinks] | None = None,
    links_out: dict[str, JobLinks] | None = None,
) -> GraphResult:
    """Build the job DiGraph (nodes sorted by id; edges added in a deterministic order).

    ``providers`` maps a package name to the recipe dir that must provide it when several do.
    Requirements that a job's own outputs satisfy (``pin_subpackage``, output-to-output) are internal
    to the job and give no edge; the same name from another variant of the same recipe does.
    ``known``: job id -> :data:`JobLinks` still valid for that job (not linked again); ``links_out``
    receives the links of every job (what a graph snapshot keeps for the next relink). The garbage
    collector is paused meanwhile (:mod:`planner.gc_pause`).
    """
    jobs = sorted(jobs, key=lambda j: j.id)
    cache = cache or SpecCache()
    providers = providers or {}
    if platforms is None:
        platforms = tuple(dict.fromkeys(j.platform for j in jobs if not j.is_noarch)) or (
            DEFAULT_NOARCH_BUILD_PLATFORM,
        )
    index = provider_index(jobs, platforms)
    graph = nx.DiGraph()
    graph.add_nodes_from((job.id, {"job": job}) for job in jobs)
    result = GraphResult(graph=graph)
    reasons: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    ambiguous: dict[str, Ambiguity] = {}
    spec_of: dict[str, dict[str, Spec | object | None]] = {}  # local memo per format: cheaper than a call
    known = known or {}
    for job in jobs:
        links = known.get(job.id)
        if links is None:
            links = link_job(job, platforms, index, cache, providers, spec_of)
        if links_out is not None:
            links_out[job.id] = links
        fold_links(job.id, links, result, ambiguous, reasons)
    add_noarch_run_edges(jobs, platforms, index, cache, providers, _Apply(result, ambiguous), reasons)
    edges = []
    for u, v in sorted(reasons):
        why = reasons[(u, v)]
        ordered = sorted(why, key=lambda r: (PHASE_RANK[r[0]], r[1])) if len(why) > 1 else list(why)
        edges.append((u, v, {"phase": ordered[0][0], "spec": ordered[0][1], "reasons": tuple(ordered)}))
    _add_edges(graph, edges)
    result.ambiguities = [ambiguous[k] for k in sorted(ambiguous)]
    return result


def _add_edges(graph: nx.DiGraph, edges: list[tuple[str, str, dict]]) -> None:
    """``graph.add_edges_from(edges)`` for new edges between nodes already in ``graph``.

    Why not networkx's own: its per-edge checks (node present? edge present? merge attribute dicts)
    were a quarter of linking a 3,000-recipe, 250,000-edge tree. This fills the same two adjacency maps
    networkx fills (``_succ[u][v]`` and ``_pred[v][u]`` share one attribute dict) and clears the
    graph's cache as it does; ``tests/test_graph.py`` holds the result equal to ``add_edges_from``.
    """
    succ, pred = graph._succ, graph._pred
    for u, v, attrs in edges:
        succ[u][v] = attrs
        pred[v][u] = attrs
    clear = getattr(nx, "_clear_cache", None)
    if clear is not None:
        clear(graph)


def _resolve(
    job: Job,
    spec: Spec,
    phase: str,
    platform: str,
    index: Mapping[str, Mapping[str, list[_Provided]]],
    cache: SpecCache,
    providers: Mapping[str, str],
    sink: _Record | _Apply,
) -> list[Job]:
    candidates = index.get(platform, {}).get(spec.name, ())
    if not candidates:
        sink.external(job.id, spec.name)
        return []
    fitting: dict[str, list[_Provided]] = defaultdict(list)
    accepts, mine = cache.accepts, job.shared_variant
    for cand in candidates:
        other = cand.job
        if other is job:
            continue
        if accepts(spec, cand.output.version) and variants_agree(mine, other.shared_variant):
            fitting[other.recipe].append(cand)
    if not fitting:
        sink.external(job.id, spec.name)
        others = tuple(sorted({c.job.id for c in candidates if c.job is not job}))
        if others:
            sink.unsatisfied(Unsatisfied(job.id, phase, spec.raw, platform, others))
        return []
    chosen = next(iter(fitting))
    if len(fitting) > 1:
        chosen, why = choose_provider(spec.name, fitting, cache, providers)
        if why != "providers: override":
            sink.ambiguity(spec.name, lambda: Ambiguity(spec.name, tuple(sorted(fitting)), chosen, why))
    return list({p.job.id: p.job for p in fitting[chosen]}.values())  # edges are sorted later


def add_noarch_run_edges(jobs, platforms, index, cache, providers, sink, reasons) -> None:
    """Order what a noarch package pulls in at run time before its dependents on every platform.

    ``pure`` (noarch) run-requires ``lib``; ``user`` on osx-arm64 host-requires ``pure``. Building
    ``user`` installs ``pure`` *and* ``lib`` for osx-arm64, so lib@osx-arm64 -> user@osx-arm64. Making
    ``pure`` itself wait for lib on every platform would also order it, but would tie the platform
    lanes into a cycle (linux-64 lane -> osx-arm64 lane -> linux-64 lane); this keeps edges between
    lanes flowing only out of noarch jobs. Run requirements of noarch packages that other noarch
    packages run-require are followed transitively.
    """
    by_id = {j.id: j for j in jobs}
    dependents: dict[str, set[str]] = defaultdict(set)
    for u, v in reasons:
        if by_id[u].is_noarch:
            dependents[u].add(v)
    memo: dict[tuple[str, str], dict[str, set[tuple[str, str]]]] = {}

    def needs(noarch: Job, platform: str, seen: frozenset[str]) -> dict[str, set[tuple[str, str]]]:
        key = (noarch.id, platform)
        if key in memo:
            return memo[key]
        found: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for phase, raw in requirement_phases(noarch):
            if phase != "run":
                continue
            spec = cache.try_parse_requirement(raw, noarch.format)
            if spec is None or spec.name in noarch.names:
                continue
            for dep in _resolve(noarch, spec, phase, platform, index, cache, providers, sink):
                if dep.is_noarch:
                    if dep.id not in seen:
                        for k, v in needs(dep, platform, seen | {dep.id}).items():
                            found[k] |= v
                else:
                    found[dep.id].add(("run", f"{raw} (run requirement of {noarch.name})"))
        memo[key] = found
        return found

    for noarch_id in sorted(dependents):
        noarch = by_id[noarch_id]
        for target_id in sorted(dependents[noarch_id]):
            target = by_id[target_id]
            if target.is_noarch or target.platform == noarch.build_platform:
                continue
            for dep_id, why in needs(noarch, target.platform, frozenset({noarch.id})).items():
                if dep_id != target_id:
                    reasons[(dep_id, target_id)].update(why)
