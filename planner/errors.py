"""The planner's errors: one hierarchy, so a caller can catch "bad input to stackplan" in one clause.

:class:`StackplanError` is the root. Each error says where the problem is (a file and line, a git
revision, a platform name) in its message, and the located ones keep the parts as attributes too.
"""

from __future__ import annotations


class StackplanError(Exception):
    """Bad input to stackplan, located as precisely as the input allows; never a bug in stackplan."""


class PlanError(StackplanError):
    """Bad input to the planner (unknown platform, bad git range, unreadable file): a clear message."""
