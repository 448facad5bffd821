"""The small files a plan reads beside the recipes: name lists (skiplists, changed-files) and durations."""

from __future__ import annotations

import json
from pathlib import Path

from planner.errors import PlanError


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
