"""Which failures are retried: by default only infrastructure failures, never a recipe's own failure.

A recipe whose script exits 1 fails the same way every time, so retrying it only delays the red
answer; a worker that lost its disk or a tool that crashed is worth another attempt after a delay.
"""

from __future__ import annotations

from typing import Any

from flows.builders import BuilderMissing, RecipeFailure

#: retry_on values: "infrastructure" (default), "all" failures, or "none".
RETRY_POLICIES = ("infrastructure", "all", "none")


def should_retry(exc: BaseException | None, policy: str) -> bool:
    """Whether a job that failed with ``exc`` deserves another attempt under ``policy``."""
    if policy == "none" or isinstance(exc, BuilderMissing):  # a missing tool does not appear by waiting
        return False
    if policy == "all":
        return True
    return not isinstance(exc, RecipeFailure)


def retry_condition(policy: str) -> Any:
    """A Prefect ``retry_condition_fn`` for ``policy``."""

    def condition(task: Any, task_run: Any, state: Any) -> bool:
        try:
            exc = state.result(raise_on_failure=False)
        except Exception as err:  # the exception could not be read back: treat it as infrastructure
            exc = err
        return should_retry(exc if isinstance(exc, BaseException) else None, policy)

    condition.__name__ = f"retry_on_{policy}"
    return condition
