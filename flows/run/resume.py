"""Resume: re-run only what an earlier run did not build, reusing what the channel has.

Given the earlier run (its report, or the journal of a run that was killed halfway), the jobs that
failed, were skipped or have no outcome (never ran, or were running when the run died) are run again;
the ones that completed are marked "Reused" and their packages come from the channel, so the edges from
them are dropped. A completed job whose packages are no longer all in the channel is built again: the
channel, not the record, decides what exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flows.run.lanes import expand
from flows.run.outcomes import GOOD_STATES
from planner.errors import StackplanError
from planner.plan.model import Plan


class ResumeError(StackplanError, ValueError):
    """The report does not belong to this plan."""


def resume_options(plan: Plan, report: Mapping[str, Any], channel: Path | None = None) -> dict[str, Any]:
    """The ``only`` / ``reused`` / ``reused_packages`` / ``resumes`` options of the main flow for
    re-running ``plan`` after ``report`` (a report or a journal read by ``flows.run.report.load_run``)."""
    plan_hash = plan.hash or plan.compute_hash()
    if report.get("plan_hash") and report["plan_hash"] != plan_hash:
        raise ResumeError(
            f"run {report.get('run') or '?'} is of plan {report['plan_hash'][:12]}, not {plan_hash[:12]}; "
            "resume with the plan that run used"
        )
    done: dict[str, list[str]] = {}
    for j in report.get("jobs", ()):
        if j.get("state") not in GOOD_STATES:
            continue
        packages = list(j.get("packages") or ())
        if channel is not None and not all((channel / p).is_file() for p in packages):
            continue  # recorded as built, but its package is gone: build it again
        done[j["job"]] = packages
    jobs = [n.id for n in expand(plan)[0]]
    return {
        "only": sorted(j for j in jobs if j not in done),
        "reused": sorted(j for j in jobs if j in done),
        "reused_packages": {j: done[j] for j in sorted(done) if j in set(jobs) and done[j]},
        "resumes": str(report.get("run") or ""),
    }
