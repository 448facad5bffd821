"""Backpressure (flows/run/backpressure.py): a subflow stays at most ``max_unrecorded`` jobs ahead of the
server's records. The window's logic with a counter the test drives, then real runs against the
session's Prefect server with a tiny window."""

from __future__ import annotations

import threading

import pytest

from flows.run.backpressure import RecordedCounter, Window
from flows.run.runner import run_plan, wait_recorded
from flows.run.synthetic import layered_plan


class Counter:
    """What the server has recorded, moved by the test (from another thread where it matters)."""

    def __init__(self, value: int = 0) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.value


def test_jobs_inside_the_window_go_without_asking():
    counter = Counter()
    window = Window(3, counter, poll=0.001)
    for k in range(4):  # jobs 0..3: at most 3 ahead of 0 recorded
        window.admit(k)
    assert counter.calls == 0


def test_a_job_past_the_window_waits_until_the_server_recorded_enough():
    counter = Counter(0)
    window = Window(3, counter, poll=0.001)
    released = threading.Event()

    def admit_job_5():
        window.admit(5)  # needs 2 recorded
        released.set()

    thread = threading.Thread(target=admit_job_5)
    thread.start()
    assert not released.wait(0.05)
    counter.value = 1
    assert not released.wait(0.05)
    counter.value = 2
    assert released.wait(5)
    thread.join()
    assert window.recorded == 2 and window.waited > 0


def test_a_server_that_records_nothing_does_not_hang_the_run():
    window = Window(1, Counter(0), poll=0.001, stall_timeout=0.05)
    window.admit(10)
    assert window.disabled
    window.admit(1000)  # no longer throttled


def test_a_failing_count_turns_backpressure_off():
    def broken() -> int:
        raise RuntimeError("no API")

    window = Window(1, broken, poll=0.001)
    window.admit(5)
    assert window.disabled


def test_zero_or_no_counter_means_no_limit():
    assert Window(0, Counter()).disabled and Window(10, None).disabled


@pytest.mark.prefect
@pytest.mark.slow
def test_a_run_with_a_small_window_builds_and_records_everything(prefect_harness, tmp_path):
    plan = layered_plan(60, platforms=("linux-64", "osx-arm64"), width=10, fan_in=2, seed=5)
    result = run_plan(
        plan,
        channel=str(tmp_path / "ch"),
        parallelism=4,
        options={
            "builder_options": {"time_scale": 0, "fail": ["pkg00025-1.0-0@linux-64"]},
            "retry_delay": 0,
            "max_unrecorded": 5,
            "chunk_size": 30,
        },
    )
    jobs = result.report["jobs"]
    assert len(jobs) == 120 and result.report["counts"]["Failed"] == 1
    recorded, counts = wait_recorded(result.report, timeout=60)
    assert recorded and sum(counts.values()) == 120, counts
    # the counter the window asks: every task run of each subflow run, in a final state
    flow_runs: dict[str, int] = {}
    for j in jobs:
        flow_runs[j["flow_run"]] = flow_runs.get(j["flow_run"], 0) + 1
    assert len(flow_runs) == 4
    recorded = {}
    for fr in flow_runs:
        with RecordedCounter(fr) as count:
            recorded[fr] = count()
    assert recorded == flow_runs
