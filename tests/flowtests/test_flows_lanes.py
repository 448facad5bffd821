"""Cutting a plan into lanes and chunks: pure functions, checked on the example plan and on random
layered plans (hypothesis)."""

from __future__ import annotations

from example_plan import job_id
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.run.lanes import split_lanes
from flows.run.synthetic import layered_plan


def test_example_lanes_follow_noarch(stack_plan):
    lanes = split_lanes(stack_plan)
    assert [ln.platform for ln in lanes] == ["linux-64", "osx-arm64"]
    linux, osx = lanes
    assert job_id("sp-docs", "linux-64") in linux.job_ids  # a noarch job lives in its build platform's lane
    assert osx.needs_lanes == ("linux-64",)
    assert osx.external[job_id("sp-app", "osx-arm64")] == (job_id("sp-docs", "linux-64"),)
    assert job_id("sp-linux-extra", "osx-arm64") not in {j for ln in lanes for j in ln.job_ids}


def test_only_keeps_the_selected_jobs_and_drops_their_edges(stack_plan):
    app = job_id("sp-app", "osx-arm64")
    (lane,) = split_lanes(stack_plan, only=[app])
    assert lane.job_ids == (app,)
    assert lane.deps[app] == () and lane.external[app] == () and lane.needs_lanes == ()


@settings(max_examples=40, deadline=None)
@given(
    jobs=st.integers(1, 300),
    width=st.integers(1, 40),
    fan_in=st.integers(1, 4),
    chunk=st.integers(1, 120),
    seed=st.integers(0, 1000),
)
def test_lane_order_and_chunks_respect_every_edge(jobs, width, fan_in, chunk, seed):
    plan = layered_plan(jobs, width=width, fan_in=fan_in, seed=seed)
    (lane,) = split_lanes(plan)
    pos = {j: i for i, j in enumerate(lane.job_ids)}
    assert sorted(pos) == sorted(n.id for n in plan.nodes)
    for e in plan.edges:
        assert pos[e.source] < pos[e.target]
    chunks = lane.chunks(chunk)
    assert [n.id for c in chunks for n in c] == list(lane.job_ids)
    assert all(0 < len(c) <= chunk for c in chunks)
    where = {n.id: i for i, c in enumerate(chunks) for n in c}
    for e in plan.edges:  # an upstream is never in a later chunk than its dependent
        assert where[e.source] <= where[e.target]
