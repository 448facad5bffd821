"""Synthetic plans: layered job graphs of any size, for tests, demos and the overhead benchmark.

They are ordinary :class:`~planner.plan.model.Plan` values (what ``stackplan plan`` writes), so the
flows cannot tell them from a real plan; only the recipes behind them do not exist (use the dry-run
builder).
"""

from __future__ import annotations

import random

from planner.model import RecipeFormat
from planner.plan.model import OutputRef, Plan, PlanEdge, PlanNode, Reason, SelectKind


def layered_plan(
    jobs: int,
    *,
    platforms: tuple[str, ...] = ("linux-64",),
    width: int = 50,
    fan_in: int = 2,
    duration: float = 0.0,
    seed: int = 0,
) -> Plan:
    """``jobs`` jobs per platform in layers of ``width``; each job past layer 0 needs up to ``fan_in``
    random jobs of the previous layer. Deterministic for a given seed."""
    rng = random.Random(seed)
    nodes: list[PlanNode] = []
    edges: list[PlanEdge] = []
    layers: dict[str, tuple[tuple[str, ...], ...]] = {}
    for platform in platforms:
        ids: list[list[str]] = []
        for i in range(jobs):
            layer = i // width
            name = f"pkg{i:05d}"
            job_id = f"{name}-1.0-0@{platform}"
            if layer == len(ids):
                ids.append([])
            ids[layer].append(job_id)
            nodes.append(
                PlanNode(
                    id=job_id,
                    recipe=f"recipes/{name}",
                    format=RecipeFormat.V1,
                    platform=platform,
                    build_platform=platform,
                    variant={},
                    outputs=(OutputRef(name, "1.0", 0),),
                    selected=Reason(SelectKind.ALL),
                    layer=layer,
                    duration_estimate=duration,
                    pool=platform,
                    test_pool=platform,
                )
            )
            if layer > 0:
                prev = ids[layer - 1]
                for src in sorted(set(rng.sample(prev, min(fan_in, len(prev))))):
                    edges.append(PlanEdge(src, job_id, "host", src.split("-")[0]))
        layers[platform] = tuple(tuple(layer) for layer in ids)
    return Plan(
        root=".", platforms=platforms, nodes=tuple(nodes), edges=tuple(edges), layers=layers
    ).with_hash()
