"""The errors of stackplan: one hierarchy, so a caller can catch "bad input to stackplan" in one clause.

:class:`StackplanError` is the root; every error says where the problem is. ``where`` is the location
(a file, ``file:line``, a git range or command, a platform or requirement as given) and ``message`` what
is wrong there; ``str(error)`` is ``"<where>: <message>"`` (or the message alone when nothing more
precise than the whole input is at fault).

- :class:`RecipeError`: a problem in a recipe or a config file, located to the line; both raised and
  carried as a value (a failed render holds one; ``Plan.errors`` lists them).
  ``planner.inputs.channel_index.ChannelError`` (an unreadable channel index) is one too.
- :class:`PlanError`: bad input to the planner as a whole (a missing file, a bad option value).
- :class:`GitError`: git failed (not a repository, unknown revision, bad range).
- ``planner.platforms.UnknownPlatformError``: a platform name that is not a conda subdir stackplan
  builds for (beside the list of subdirs it names).
- :class:`InvalidSpecError`: a requirement string that is not a MatchSpec.
- ``planner.graph.cycles.CycleError``: cycles under ``--strict-cycles`` (each cycle spelled out).

``flows`` roots its own errors (server, webhook dispatch, payloads, GitHub, resume, builders) here too.

>>> str(RecipeError("recipes/a/meta.yaml", 4, "unknown key"))
'recipes/a/meta.yaml:4: unknown key'
>>> isinstance(GitError("unknown revision 'nope'"), StackplanError)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


class StackplanError(Exception):
    """Bad input to stackplan, located as precisely as the input allows; never a bug in stackplan."""

    def __init__(self, message: str, where: str | Path | None = None) -> None:
        self.message = message
        self.where = str(where) if where is not None else None
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class RecipeError(StackplanError):
    """A problem in a recipe (or a config file), located: the file, the 1-based line (or None), a message.

    It is both raised and carried as a value: a render that fails returns it inside its
    :class:`planner.model.PlatformRender` so one broken recipe never stops the other 9,999.
    """

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(message, where)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecipeError) and (self.path, self.line, self.message) == (
            other.path,
            other.line,
            other.message,
        )

    def __hash__(self) -> int:
        return hash((self.path, self.line, self.message))

    def __reduce__(self):  # picklable across processes
        return (RecipeError, (self.path, self.line, self.message))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RecipeError:
        return cls(d["path"], d.get("line"), d["message"])


class PlanError(StackplanError):
    """Bad input to the planner (unknown platform, bad git range, unreadable file): a clear message."""


class GitError(StackplanError):
    """git failed (not a repository, unknown revision): the message says which command and why."""


class InvalidSpecError(StackplanError, ValueError):
    """A requirement string that is not a MatchSpec (e.g. an unrendered Jinja leftover)."""

    def __init__(self, raw: str, message: str) -> None:
        self.raw = raw
        super().__init__(f"invalid requirement {raw!r}: {message}")
