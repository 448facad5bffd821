"""Hook point for reporting: the state hooks the platform subflow passes to Prefect.

Each list holds callables of Prefect's flow-hook signature ``(flow, flow_run, state)``. Today they
carry the GitHub commit-status hooks of :mod:`flows.events.statuses`, which report nothing unless the run has
a ``repo`` and ``head_sha`` and the process has ``GITHUB_TOKEN``; a new reporter (another chat, another
forge) is one more entry here. Hooks run in the process that runs the subflow (the CLI locally, a
worker when deployed), and never raise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flows.events import statuses as notify

Hook = Callable[[Any, Any, Any], None]

PLATFORM_ON_RUNNING: list[Hook] = [*notify.ON_RUNNING]
PLATFORM_ON_COMPLETION: list[Hook] = [*notify.ON_COMPLETION]
PLATFORM_ON_FAILURE: list[Hook] = [*notify.ON_FAILURE]
PLATFORM_ON_CRASHED: list[Hook] = [*notify.ON_CRASHED]
