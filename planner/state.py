"""Where stackplan keeps state between runs: ``$STACKPLAN_HOME``, else ``./.stackplan``.

The embedded Prefect server's database, the webhook delivery store and checkouts, the monitor's memory
of what it reported and the migration overrides of ``rebuild`` all live under this one directory, so
one variable moves them all. (Renders are a cache, not state: :func:`planner.render.cache.default_cache_dir`.)
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
