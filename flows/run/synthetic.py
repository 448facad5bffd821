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


def variant_plan(recipes: int, *, pythons: int = 5, hubs: int = 5, seed: int = 7) -> Plan:
    """A planned ecosystem of ``recipes`` recipes on linux-64, each built for ``pythons`` python
    versions, with a distribution's shape: most recipes use some of the first ``hubs`` recipes and a
    few random earlier ones. Unlike :func:`layered_plan` it goes through the planner (render values
    -> :func:`~planner.plan.build.assemble_plan`), so variants, edges and layers are real; for the
    graph page's tests and benchmark. Deterministic for a given seed.

    >>> plan = variant_plan(20, pythons=2)
    >>> len(plan.nodes), sorted({n.variant["python"] for n in plan.nodes})
    (40, ['3.10', '3.11'])
    """
    from planner.model import PlatformRender, RenderedOutput, RenderedRecipe, Requirements, Variant
    from planner.plan.build import PlanSettings, assemble_plan
    from planner.plan.select import Selection

    rng = random.Random(seed)
    versions = [f"3.{10 + i}" for i in range(pythons)]
    renders = []
    for i in range(recipes):
        deps = [f"pkg{h:05d}" for h in range(min(i, hubs)) if rng.random() < 0.5]
        deps += [f"pkg{rng.randrange(i):05d}" for _ in range(rng.randint(0, 3)) if i]
        name = f"pkg{i:05d}"
        variants = tuple(
            RenderedRecipe(
                recipe=f"recipes/{name}",
                format=RecipeFormat.V0,
                platform="linux-64",
                variant=Variant({"python": py}),
                outputs=(
                    RenderedOutput(
                        name=name,
                        version="1.0",
                        build_number=0,
                        requirements=Requirements(host=("python", *sorted(set(deps)))),
                        variant=Variant({"python": py}),
                    ),
                ),
            )
            for py in versions
        )
        renders.append(PlatformRender(f"recipes/{name}", "linux-64", variants))
    plan, _ = assemble_plan(renders, Selection(), PlanSettings(root="synthetic", platforms=("linux-64",)))
    return plan
