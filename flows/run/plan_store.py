"""Plans and outcomes passed by reference, as files under ``<channel>/.stackplan/``.

Prefect refuses flow-run parameters over 512 KiB (a 1,000-job plan is ~590 KB as JSON) and stores
every parameter in its database, so a big plan goes to the flows as a path: the main flow takes either
the plan itself or ``{"path": ..., "hash": ...}``, and the platform subflows always take the plan's path,
their job ids and a file of the upstream outcomes they need. The channel directory is already shared
by everything that builds into it (workers included), so the files are where every run can read them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from planner.plan.model import Plan

STORE = ".stackplan"
#: Plans at most this big (canonical JSON bytes) are passed inline to the main flow.
INLINE_LIMIT = 200_000

_cache: dict[tuple[str, int], Plan] = {}
_cache_lock = threading.Lock()


def store_plan(plan: Plan, channel: Path) -> Path:
    """Write the plan to ``<channel>/.stackplan/plans/<hash>.json`` (once) and return the path."""
    plan = plan if plan.hash else plan.with_hash()
    path = channel / STORE / "plans" / f"{plan.hash}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(plan.to_json())
        tmp.replace(path)
    return path


def plan_param(plan: Plan, channel: Path) -> dict[str, Any]:
    """The main flow's ``plan`` parameter: the plan itself when small, else a reference to its file."""
    text = plan.to_json()
    if len(text) <= INLINE_LIMIT:
        return json.loads(text)
    return {"path": str(store_plan(plan, channel)), "hash": plan.hash}


def load_plan(param: Mapping[str, Any] | str | Path) -> Plan:
    """The plan from a ``plan`` parameter (the plan, a reference, or a path; a ``<state>/...`` path is
    under this process's state directory, :func:`planner.state.resolve_state_ref`); files are cached."""
    if isinstance(param, Mapping) and "nodes" in param:
        return Plan.from_dict(param)
    from planner.state import resolve_state_ref

    path = resolve_state_ref(param["path"] if isinstance(param, Mapping) else param)
    key = (str(path), path.stat().st_mtime_ns)
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Plan.from_json(path.read_text())
        return _cache[key]


def write_outcomes(path: Path, outcomes: Iterable[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sorted(outcomes, key=lambda o: o["job"]), sort_keys=True))
    return path


def read_outcomes(path: str | Path | None) -> list[dict[str, Any]]:
    if not path:
        return []
    return json.loads(Path(path).read_text())
