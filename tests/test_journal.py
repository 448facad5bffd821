"""The run journal (flows/run/journal.py) and resuming from it (flows/run/resume.py): what a run killed
at any moment leaves is readable, names its run, and resumes only with its own plan."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.run.journal import INTERRUPTED, Journal, read_journal, run_id, start_journal
from flows.run.outcomes import COMPLETED, FAILED, JobOutcome
from flows.run.report import latest_run, load_run
from flows.run.resume import ResumeError, resume_options

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "stack"


def _outcome(job: str, state: str = COMPLETED, packages: tuple[str, ...] = ()) -> JobOutcome:
    return JobOutcome(job, "linux-64", job.split("@")[0], state, packages=packages)


@given(cut=st.integers(min_value=0, max_value=10_000), n=st.integers(min_value=1, max_value=6))
@settings(max_examples=40, deadline=None)
def test_a_journal_cut_anywhere_reads_back_the_whole_lines(tmp_path_factory, cut, n):
    """Whatever byte a writer died at, the journal reads back the header and exactly the jobs whose
    line was written whole (a kill mid-write leaves a torn last line, never a wrong record)."""
    path = tmp_path_factory.mktemp("j") / "run.jsonl"
    with Journal(path) as j:
        j.append({"kind": "run", "run": "r1", "plan_hash": "ab" * 32})
        for i in range(n):
            j.job(_outcome(f"job{i}@linux-64"))
    data = path.read_bytes()
    header_end = data.index(b"\n") + 1
    cut = header_end + cut % (len(data) - header_end + 1)
    path.write_bytes(data[:cut])
    run = read_journal(path)
    ends, pos = [], 0
    for line in data.split(b"\n")[1:-1]:  # the job lines: where each one's JSON ends
        pos = data.index(line, pos) + len(line)
        ends.append(pos)
    whole = sum(1 for e in ends if e <= cut)
    assert run["run"] == "r1" and run["state"] == INTERRUPTED
    assert [j["job"] for j in run["jobs"]] == sorted(f"job{i}@linux-64" for i in range(whole))


def test_a_corrupt_line_in_the_middle_is_a_located_error(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text('{"kind": "run", "run": "r"}\nnot json\n{"kind": "end", "state": "Completed"}\n')
    with pytest.raises(ValueError, match=r"run.jsonl:2: not a journal line"):
        read_journal(path)


def test_latest_run_prefers_a_newer_interrupted_journal_over_an_older_report(tmp_path):
    older = run_id("a" * 64, time.time() - 3600, pid=1)
    (tmp_path / f"{older}.json").write_text(json.dumps({"run": older, "plan_hash": "a" * 64, "jobs": []}))
    (tmp_path / f"{older}.jsonl").write_text("")
    newer = run_id("a" * 64, time.time(), pid=2)
    start_journal(tmp_path / f"{newer}.jsonl", {"run": newer, "plan_hash": "a" * 64}).close()
    os.utime(tmp_path / f"{newer}.jsonl", (1, 1))  # file times do not decide: the start in the id does
    assert latest_run(tmp_path) == tmp_path / f"{newer}.jsonl"
    assert load_run(latest_run(tmp_path))["state"] == INTERRUPTED


def test_resume_reuses_completed_jobs_whose_packages_are_in_the_channel(tmp_path):
    from planner.plan.build import PlanRequest, build_plan

    plan = build_plan(PlanRequest(root=EXAMPLES, platforms=("linux-64",))).with_hash()
    jobs = sorted(n.id for n in plan.nodes if not n.skipped)
    (tmp_path / "linux-64").mkdir()
    (tmp_path / "linux-64" / "a.conda").write_text("x")
    path = tmp_path / "r.jsonl"
    header = {"run": "r", "plan_hash": plan.hash}
    with start_journal(path, header, [_outcome(jobs[0], packages=("linux-64/a.conda",))]) as j:
        j.job(_outcome(jobs[1], packages=("linux-64/gone.conda",)))  # its package was removed since
        j.job(_outcome(jobs[2], FAILED))
    opts = resume_options(plan, read_journal(path), tmp_path)
    assert opts["reused"] == [jobs[0]] and opts["reused_packages"] == {jobs[0]: ["linux-64/a.conda"]}
    assert opts["only"] == jobs[1:] and opts["resumes"] == "r"
    with pytest.raises(ResumeError, match=r"run r is of plan ffffffffffff, not"):
        resume_options(plan, {**read_journal(path), "plan_hash": "f" * 64})
