"""The small files a plan reads beside the recipes: name lists (skiplists, changed-files) and durations."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from planner.errors import PlanError
from planner.state import state_home

#: The learned-durations cache: the durations of past real builds, kept in the state directory by the
#: commands that read Prefect's history (``stackplan run`` after real builds, planning with a loopback
#: Prefect API), and read by planning when neither ``--durations`` nor stackplan.yaml names a file.
LEARNED_DURATIONS = "learned-durations.json"


def learned_durations_file(home: Path | None = None) -> Path:
    """``<state>/learned-durations.json`` (:func:`planner.state.state_home`)."""
    return (home or state_home()) / LEARNED_DURATIONS


def write_durations(path: Path, durations: Mapping[str, float]) -> None:
    """Write a durations file (what :func:`load_durations` reads) whole or not at all: a reader never
    sees half a file, and two writers leave one of their versions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dict(durations), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_durations(path: Path) -> dict[str, float]:
    """Read a durations file: JSON object {"recipe dir or package name": seconds}."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PlanError(f"cannot read durations: {exc}", path) from exc
    if not isinstance(data, dict) or not all(isinstance(v, int | float) for v in data.values()):
        raise PlanError("durations must be a JSON object of name -> seconds", path)
    return {str(k): float(v) for k, v in data.items()}


def read_name_list(path: Path) -> tuple[str, ...]:
    """One name per line; ``#`` starts a comment; blank lines ignored (skiplists, changed-files)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise PlanError(f"cannot read: {exc.strerror or exc}", path) from exc
    names = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return tuple(n for n in names if n)
