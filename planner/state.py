"""Where stackplan keeps state between runs: ``$STACKPLAN_HOME``, else ``./.stackplan``.

The embedded Prefect server's database, the webhook delivery store and checkouts, the monitor's memory
of what it reported and the migration overrides of ``rebuild`` all live under this one directory, so
one variable moves them all. (Renders are a cache, not state: :func:`planner.render.cache.default_cache_dir`.)

A path under it that is stored for another process (a webhook build run's ``plan.root``, in Prefect) is
written as a reference, ``<state>/checkouts/<sha>``, which that process resolves against its own state
directory (:func:`state_ref`, :func:`resolve_state_ref`).
"""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that moves the state directory.
STATE_ENV = "STACKPLAN_HOME"
#: The state directory's name under the current directory when ``$STACKPLAN_HOME`` is not set.
STATE_DIR_NAME = ".stackplan"


def state_home(cwd: Path | None = None) -> Path:
    """``$STACKPLAN_HOME`` or ``<cwd>/.stackplan`` (``cwd`` default: the current directory), absolute."""
    env = os.environ.get(STATE_ENV)
    return Path(env).resolve() if env else (cwd or Path.cwd()).resolve() / STATE_DIR_NAME


#: How a path under the state directory is written where it is stored for another process to read (a
#: build run's parameters in Prefect): ``<state>/checkouts/<sha>/recipes``. The server's absolute paths
#: never reach Prefect; a worker resolves the reference against its own state directory, so workers of
#: ``stackplan serve`` runs share its ``$STACKPLAN_HOME`` (they read its checkouts).
STATE_REF = "<state>"


def state_ref(path: str | Path, home: Path | None = None) -> str:
    """``path`` written as ``<state>/...`` relative to the state directory ``home`` (default
    :func:`state_home`); ``ValueError`` when it is not under it.

    >>> state_ref("/srv/st/checkouts/ab/recipes", Path("/srv/st"))
    '<state>/checkouts/ab/recipes'
    """
    rel = Path(path).resolve().relative_to((home or state_home()).resolve())
    return STATE_REF if rel == Path(".") else f"{STATE_REF}/{rel.as_posix()}"


def is_state_ref(value: str | Path | None) -> bool:
    """Whether ``value`` is a ``<state>/...`` reference (:func:`state_ref`)."""
    text = str(value) if value is not None else ""
    return text == STATE_REF or text.startswith(STATE_REF + "/")


def resolve_state_ref(value: str | Path, home: Path | None = None) -> Path:
    """A ``<state>/...`` reference as a path under this process's state directory (``home``, default
    :func:`state_home`); any other value as the path it names.

    >>> resolve_state_ref("<state>/checkouts/ab", Path("/w/st")).as_posix()
    '/w/st/checkouts/ab'
    >>> resolve_state_ref("recipes").as_posix()
    'recipes'
    """
    if not is_state_ref(value):
        return Path(value)
    rest = str(value)[len(STATE_REF) :].lstrip("/")
    return (home or state_home()) / rest if rest else (home or state_home())
