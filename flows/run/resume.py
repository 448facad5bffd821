"""Resume: re-run only what an earlier run did not build, reusing what the channel has.

Given the earlier run's report, the jobs that failed or were skipped (or never ran) are run again;
the ones that completed are marked "Reused" and their packages come from the channel, so the edges
from them are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.run.lanes import expand
from flows.run.outcomes import GOOD_STATES
from planner.errors import StackplanError
from planner.plan.model import Plan


class ResumeError(StackplanError, ValueError):
    """The report does not belong to this plan."""


def resume_options(plan: Plan, report: Mapping[str, Any]) -> dict[str, list[str]]:
    """The ``only`` / ``reused`` options of the main flow for re-running ``plan`` after ``report``."""
    plan_hash = plan.hash or plan.compute_hash()
    if report.get("plan_hash") and report["plan_hash"] != plan_hash:
        raise ResumeError(
            f"run report is for plan {report['plan_hash'][:12]}, not {plan_hash[:12]}; "
            "resume with the plan that run used"
        )
    done = {j["job"] for j in report.get("jobs", ()) if j.get("state") in GOOD_STATES}
    jobs = [n.id for n in expand(plan)[0]]
    return {"only": sorted(j for j in jobs if j not in done), "reused": sorted(j for j in jobs if j in done)}
