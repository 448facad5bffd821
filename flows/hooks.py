"""Hook point for reporting: state hooks the platform subflow passes to Prefect.

Each list holds callables of Prefect's flow-hook signature ``(flow, flow_run, state)``. They are empty
by default; the reporting side (flows/notify.py: GitHub commit statuses) is appended here at merge time.
Hooks run in the process that runs the subflow (the CLI locally, a worker when deployed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Hook = Callable[[Any, Any, Any], None]

PLATFORM_ON_RUNNING: list[Hook] = []
PLATFORM_ON_COMPLETION: list[Hook] = []
PLATFORM_ON_FAILURE: list[Hook] = []
