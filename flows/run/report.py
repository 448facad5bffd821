"""The run report: a JSON file next to the channel and a Markdown table for Prefect's artifacts.

``<channel>/<run id>.json`` (run id: ``stackplan-run-<plan hash 12>-<UTC start>-<pid>``) records every
job's final state, duration, attempts and packages at the end of a run; while the run goes on, the same
outcomes land one by one in the run's journal ``<run id>.jsonl`` (flows/run/journal.py). ``stackplan run
--resume`` reads either back (:func:`load_run`, :func:`latest_run`) to re-run what did not build.
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
    run: str = "",
    resumes: str | None = None,
) -> dict[str, Any]:
    jobs = sorted(outcomes, key=lambda o: (o.platform, o.job))
    counts = summarize(jobs)
    ok = all(o.state in GOOD_STATES for o in jobs)
    return {
        "run": run,
        "resumes": resumes,
        "plan_hash": plan_hash,
        "root": root,
        "builder": builder,
        "channel": channel,
        "flow_run": flow_run,
        "pr": pr,
        "head_sha": head_sha,
        "repo": repo,
        "started": iso_time(started),
        "finished": iso_time(finished),
        "duration": round(finished - started, 3),
        "state": "Completed" if ok else "Failed",
        "counts": counts,
        "jobs": [o.to_dict() for o in jobs],
    }


def write_report(channel: Path, report: Mapping[str, Any]) -> Path:
    """Write ``<channel>/<run id>.json`` (atomically: a reader never sees half a report)."""
    channel.mkdir(parents=True, exist_ok=True)
    stamp = report["finished"].replace("-", "").replace(":", "")
    name = report.get("run") or f"stackplan-run-{report['plan_hash'][:12]}-{stamp}"
    path = channel / f"{name}.json"
    n = 1
    while path.exists():
        n += 1
        path = channel / f"{name}-{n}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def read_report(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def load_run(path: Path) -> dict[str, Any]:
    """A finished run's report (``.json``) or a run's journal (``.jsonl``, possibly interrupted)."""
    from flows.run.journal import read_journal

    if path.suffix == ".jsonl":
        return read_journal(path)
    report = read_report(path)
    report.setdefault("run", path.stem)
    return report


def latest_run(channel: Path) -> Path | None:
    """The newest run in the channel, finished or not: its report, else its journal.

    Runs are ordered by when they started (the run id holds the start time), then by file time, so a
    run killed halfway (a journal and no report) is newer than the finished run before it."""
    from flows.run.journal import JOURNAL_GLOB

    runs: dict[str, Path] = {}
    for p in [*channel.glob(JOURNAL_GLOB), *channel.glob(REPORT_GLOB)]:
        if p.suffix == ".json" or p.stem not in runs:  # a run's report wins over its journal
            runs[p.stem] = p
    if not runs:
        return None
    return max(runs.values(), key=lambda p: (_started(p), p.stat().st_mtime, p.name))


def _started(path: Path) -> str:
    """The UTC start stamp in a run id (``...-YYYYmmddTHHMMSSZ-pid``), or "" for older report names."""
    for part in path.stem.split("-"):
        if len(part) == 16 and part[8] == "T" and part.endswith("Z"):
            return part
    return ""


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
        "| job | platform | isolation | state | duration (s) | detail |",
        "|---|---|---|---|---:|---|",
    ]
    for j in jobs:
        detail = (j["message"] or ", ".join(j["packages"])).replace("|", "\\|").replace("\n", " ")[:200]
        iso = j.get("isolation") or ""
        lines.append(
            f"| `{j['job']}` | {j['platform']} | {iso} | {j['state']} | {j['duration']:.2f} | {detail} |"
        )
    return "\n".join(lines) + "\n"


def iso_time(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
