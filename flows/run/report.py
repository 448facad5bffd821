"""The run report: a JSON file next to the channel and a Markdown table for Prefect's artifacts.

``<channel>/stackplan-run-<plan hash 12>-<UTC timestamp>.json`` records every job's final state,
duration, attempts and packages; ``stackplan run --resume`` reads it back to re-run what did not build.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flows.run.outcomes import FAILED, GOOD_STATES, SKIPPED, JobOutcome

REPORT_GLOB = "stackplan-run-*.json"


def summarize(outcomes: Iterable[JobOutcome]) -> dict[str, int]:
    counts = Counter(o.state for o in outcomes)
    return dict(sorted(counts.items()))


def build_report(
    *,
    plan_hash: str,
    root: str,
    builder: str,
    channel: str,
    outcomes: Iterable[JobOutcome],
    started: float,
    finished: float,
    flow_run: str = "",
    pr: int | None = None,
    head_sha: str | None = None,
    repo: str | None = None,
) -> dict[str, Any]:
    jobs = sorted(outcomes, key=lambda o: (o.platform, o.job))
    counts = summarize(jobs)
    ok = all(o.state in GOOD_STATES for o in jobs)
    return {
        "plan_hash": plan_hash,
        "root": root,
        "builder": builder,
        "channel": channel,
        "flow_run": flow_run,
        "pr": pr,
        "head_sha": head_sha,
        "repo": repo,
        "started": _iso(started),
        "finished": _iso(finished),
        "duration": round(finished - started, 3),
        "state": "Completed" if ok else "Failed",
        "counts": counts,
        "jobs": [o.to_dict() for o in jobs],
    }


def write_report(channel: Path, report: Mapping[str, Any]) -> Path:
    channel.mkdir(parents=True, exist_ok=True)
    stamp = report["finished"].replace("-", "").replace(":", "")
    path = channel / f"stackplan-run-{report['plan_hash'][:12]}-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = channel / f"stackplan-run-{report['plan_hash'][:12]}-{stamp}-{n}.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return path


def read_report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def latest_report(channel: Path) -> Path | None:
    found = sorted(channel.glob(REPORT_GLOB), key=lambda p: (p.stat().st_mtime, p.name))
    return found[-1] if found else None


def markdown_table(report: Mapping[str, Any]) -> str:
    """The run as a Markdown table (job, platform, state, duration), failures first."""
    order = {FAILED: 0, SKIPPED: 1}
    jobs = sorted(report["jobs"], key=lambda j: (order.get(j["state"], 2), j["platform"], j["job"]))
    counts = ", ".join(f"{n} {s.lower()}" for s, n in report["counts"].items()) or "no jobs"
    lines = [
        f"# stackplan run {report['plan_hash'][:12]}: {report['state']}",
        "",
        f"{counts}; builder `{report['builder']}`, channel `{report['channel']}`.",
        "",
        "| job | platform | state | duration (s) | detail |",
        "|---|---|---|---:|---|",
    ]
    for j in jobs:
        detail = (j["message"] or ", ".join(j["packages"])).replace("|", "\\|").replace("\n", " ")[:200]
        lines.append(f"| `{j['job']}` | {j['platform']} | {j['state']} | {j['duration']:.2f} | {detail} |")
    return "\n".join(lines) + "\n"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
