"""Lanes: how a plan is cut into per-platform subflows, and in which order each lane's jobs go.

A lane is the set of jobs that run on one build platform (a noarch job lives in the lane of its build
platform, as the plan's layers say). One Prefect subflow runs one lane; a lane with more jobs than
``chunk_size`` is cut into chunks of whole layers, each its own subflow run (one flow run with ~10,000
task runs once overflowed the Prefect server's in-memory event queue and lost records; the subflow's
backpressure now bounds that queue, and chunks keep flow runs to a size the UI handles well).

Edges may cross lanes only out of a noarch job (a noarch package satisfies dependents on every
platform), so lanes form a DAG: a lane starts once every lane it needs has finished. This module is
pure (no Prefect): the flows call it, tests call it directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from planner.plan.model import Plan, PlanEdge, PlanNode

#: Jobs per subflow run. What keeps the server's event queue from overflowing is the subflow's
#: backpressure (flows/run/backpressure.py); chunks keep a flow run to a size the UI's run graph and
#: a worker's memory take well, and a 3,000-job lane in one run (no stall at a chunk boundary).
DEFAULT_CHUNK_SIZE = 5000


@dataclass(frozen=True)
class Lane:
    """One build platform's jobs, in topological (layer, id) order, with their dependencies.

    ``deps[job]`` lists the job's upstream job ids in the same lane; ``external[job]`` lists upstream
    ids in other lanes (always finished before this lane starts).
    """

    platform: str
    jobs: tuple[PlanNode, ...]
    deps: Mapping[str, tuple[str, ...]]
    external: Mapping[str, tuple[str, ...]]
    needs_lanes: tuple[str, ...]

    @property
    def job_ids(self) -> tuple[str, ...]:
        return tuple(j.id for j in self.jobs)

    def chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> tuple[tuple[PlanNode, ...], ...]:
        """Consecutive groups of whole layers with at most ``chunk_size`` jobs each (a layer larger
        than ``chunk_size`` is split on its own: jobs of one layer never depend on each other)."""
        out: list[tuple[PlanNode, ...]] = []
        current: list[PlanNode] = []
        by_layer: dict[int, list[PlanNode]] = defaultdict(list)
        for job in self.jobs:
            by_layer[job.layer].append(job)
        for layer in sorted(by_layer):
            group = by_layer[layer]
            if current and len(current) + len(group) > chunk_size:
                out.append(tuple(current))
                current = []
            while len(group) > chunk_size:
                out.append(tuple(group[:chunk_size]))
                group = group[chunk_size:]
            current.extend(group)
        if current:
            out.append(tuple(current))
        return tuple(out)


GPU_LANE = "gpu"
TEST_SUFFIX = "#gpu-test"


def buildable(plan: Plan) -> tuple[PlanNode, ...]:
    """The jobs that will run: selected and not skipped by the planner."""
    return tuple(n for n in plan.nodes if n.skipped is None)


def is_gpu_test(job_id: str) -> bool:
    return job_id.endswith(TEST_SUFFIX)


def tested_job(job_id: str) -> str:
    """The build job a GPU test job tests."""
    return job_id.removesuffix(TEST_SUFFIX)


def expand(plan: Plan) -> tuple[tuple[PlanNode, ...], tuple[PlanEdge, ...]]:
    """The runnable jobs and edges, plus one GPU test job per job whose tests belong on the gpu pool
    (``test_pool == "gpu"``): it runs in the "gpu" lane after its build job, so the build happens on
    the platform's workers and the tests on a GPU machine."""
    nodes = list(buildable(plan))
    edges = list(plan.edges)
    for n in list(nodes):
        if n.test_pool == GPU_LANE and n.pool != GPU_LANE:
            test = replace(
                n, id=n.id + TEST_SUFFIX, build_platform=GPU_LANE, pool=GPU_LANE, tags=(*n.tags, "gpu-test")
            )
            nodes.append(test)
            edges.append(PlanEdge(n.id, test.id, "test", "gpu test"))
    return tuple(nodes), tuple(edges)


def split_lanes(plan: Plan, only: Iterable[str] | None = None) -> tuple[Lane, ...]:
    """Cut the plan's buildable jobs into lanes, in an order where every lane follows the lanes it needs.

    ``only`` (resume) keeps just those job ids; edges from jobs left out are dropped, their packages
    being in the channel already.
    """
    nodes, edges = expand(plan)
    if only is not None:
        keep = set(only)
        nodes = tuple(n for n in nodes if n.id in keep)
    by_id = {n.id: n for n in nodes}
    deps: dict[str, set[str]] = defaultdict(set)
    external: dict[str, set[str]] = defaultdict(set)
    lane_needs: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        if e.source not in by_id or e.target not in by_id or e.source == e.target:
            continue
        src_lane, dst_lane = by_id[e.source].lane, by_id[e.target].lane
        if src_lane == dst_lane:
            deps[e.target].add(e.source)
        else:
            external[e.target].add(e.source)
            lane_needs[dst_lane].add(src_lane)
    grouped: dict[str, list[PlanNode]] = defaultdict(list)
    for n in nodes:
        grouped[n.lane].append(n)
    lanes = {
        p: Lane(
            platform=p,
            jobs=tuple(_topological(jobs, deps)),
            deps={j.id: tuple(sorted(deps.get(j.id, ()))) for j in jobs},
            external={j.id: tuple(sorted(external.get(j.id, ()))) for j in jobs},
            needs_lanes=tuple(sorted(lane_needs.get(p, ()))),
        )
        for p, jobs in grouped.items()
    }
    return tuple(lanes[p] for p in _lane_order(lanes))


def _topological(jobs: list[PlanNode], deps: Mapping[str, set[str]]) -> list[PlanNode]:
    """Jobs sorted by (layer, id), then repaired so every job follows its in-lane dependencies even if
    the plan's layer numbers are off (Kahn's algorithm with the (layer, id) order as tie-break)."""
    import heapq

    ids = {j.id for j in jobs}
    by_id = {j.id: j for j in jobs}
    indegree = {j.id: len(deps.get(j.id, set()) & ids) for j in jobs}
    children: dict[str, list[str]] = defaultdict(list)
    for j in jobs:
        for d in deps.get(j.id, set()) & ids:
            children[d].append(j.id)
    heap = [(by_id[i].layer, i) for i, d in indegree.items() if d == 0]
    heapq.heapify(heap)
    out: list[PlanNode] = []
    while heap:
        _, i = heapq.heappop(heap)
        out.append(by_id[i])
        for c in children[i]:
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(heap, (by_id[c].layer, c))
    if len(out) != len(jobs):  # a cycle the planner did not break: keep the rest in layer order
        seen = {j.id for j in out}
        out.extend(sorted((j for j in jobs if j.id not in seen), key=lambda j: (j.layer, j.id)))
    return out


def _lane_order(lanes: Mapping[str, Lane]) -> list[str]:
    """Lanes in dependency order, ties by platform name."""
    order: list[str] = []
    done: set[str] = set()
    pending = sorted(lanes)
    while pending:
        ready = [p for p in pending if set(lanes[p].needs_lanes) & set(lanes) <= done]
        if not ready:  # cannot happen for plans the planner makes; keep going deterministically
            ready = pending[:1]
        for p in ready:
            order.append(p)
            done.add(p)
        pending = [p for p in pending if p not in done]
    return order
