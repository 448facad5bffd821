"""Layers, critical path and makespan of the selected jobs.

A job's layer is the length of the longest chain of plan edges that ends at it (networkx's
topological generations over the whole plan, all platforms at once), so every edge goes from a lower
layer to a higher one, across lanes too (a noarch job drawn in the linux-64 lane, an osx-arm64 job
waiting for it). ``layers[platform][i]`` lists the jobs of that lane in layer i; a lane may have an
empty layer where it waits for another lane.

>>> import networkx as nx
>>> dag = nx.DiGraph([("a", "b"), ("b", "c")])
>>> layer_numbers(dag)
{'a': 0, 'b': 1, 'c': 2}
>>> critical_paths(dag, {"a": 1.0, "b": 5.0, "c": 1.0}, {"a": "linux-64", "b": "linux-64", "c": "linux-64"})
({'linux-64': ('a', 'b', 'c')}, {'linux-64': 7.0})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx


def layer_numbers(dag: nx.DiGraph) -> dict[str, int]:
    """node -> its topological generation (0 for jobs that wait for nothing)."""
    numbers: dict[str, int] = {}
    for depth, generation in enumerate(nx.topological_generations(dag)):
        for node in generation:
            numbers[node] = depth
    return dict(sorted(numbers.items()))


def lane_layers(numbers: Mapping[str, int], lanes: Mapping[str, str], platforms: Iterable[str]):
    """platform -> tuple of layers (sorted job ids); every platform of the plan gets a key."""
    out: dict[str, list[list[str]]] = {p: [] for p in platforms}
    for node, depth in sorted(numbers.items()):
        rows = out.setdefault(lanes[node], [])
        while len(rows) <= depth:
            rows.append([])
        rows[depth].append(node)
    return {p: tuple(tuple(sorted(layer)) for layer in rows) for p, rows in sorted(out.items())}


def finish_times(dag: nx.DiGraph, durations: Mapping[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """Earliest finish of every job with unlimited workers, and the predecessor that decides it
    (the latest-finishing one; ties to the smallest id, so the answer never depends on graph order)."""
    finish: dict[str, float] = {}
    critical_pred: dict[str, str] = {}
    for node in nx.topological_sort(dag):
        best: str | None = None
        start = 0.0
        for pred in dag.predecessors(node):
            f = finish[pred]
            if best is None or f > start or (f == start and pred < best):
                best, start = pred, f
        if best is not None:
            critical_pred[node] = best
        finish[node] = start + float(durations.get(node, 1.0))
    return finish, critical_pred


def _last(nodes: Iterable[str], finish: Mapping[str, float]) -> str:
    """The node that finishes last; ties to the smallest id."""
    best: str | None = None
    for n in nodes:
        if best is None or finish[n] > finish[best] or (finish[n] == finish[best] and n < best):
            best = n
    assert best is not None
    return best


def critical_paths(
    dag: nx.DiGraph, durations: Mapping[str, float], lanes: Mapping[str, str]
) -> tuple[dict[str, tuple[str, ...]], dict[str, float]]:
    """Per lane: critical path and makespan (computed with one pass over the DAG)."""
    finish, pred = finish_times(dag, durations)
    by_lane: dict[str, list[str]] = {}
    for node, lane in lanes.items():
        by_lane.setdefault(lane, []).append(node)
    paths: dict[str, tuple[str, ...]] = {}
    spans: dict[str, float] = {}
    for lane, nodes in sorted(by_lane.items()):
        end = _last(nodes, finish)
        path = [end]
        while path[-1] in pred:
            path.append(pred[path[-1]])
        paths[lane] = tuple(reversed(path))
        spans[lane] = round(finish[end], 6)
    return paths, spans
