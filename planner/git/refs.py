"""What may reach git from outside: commit ids and ref names, checked before any git command sees them.

A webhook payload is attacker-controlled. A "sha" of ``--upload-pack=touch /tmp/x`` handed to
``git fetch`` is an option, not a commit, and runs a command; ``--depth=1`` makes a clone shallow.
So every value from a payload is checked here first, and every git call in stackplan puts
``--end-of-options`` (revisions) or ``--`` (paths, remotes) before its positional arguments, so even a
value that slipped through could never be read as an option.

* a commit id is 40 (SHA-1) or 64 (SHA-256) lowercase or uppercase hex characters, nothing else;
* a ref passes ``git check-ref-format`` and no component starts with ``-``
  (git itself refuses such branch names, and ``check-ref-format`` alone accepts ``refs/heads/-x``).

>>> is_sha("0123456789abcdef0123456789abcdef01234567")
True
>>> is_sha("--upload-pack=touch /tmp/x")
False
"""

from __future__ import annotations

import re
import subprocess

__all__ = ["InvalidGitValue", "check_branch", "check_ref", "check_sha", "is_sha"]

_SHA = re.compile(r"[0-9a-fA-F]{40}(?:[0-9a-fA-F]{24})?")
#: Longer ref names than this are refused before git is asked (git's own limit is the file system's).
MAX_REF_LENGTH = 255


class InvalidGitValue(ValueError):
    """A commit id or ref name that git must not see (the message says which and why)."""


def is_sha(value: object) -> bool:
    """Whether ``value`` is a full commit id (40 or 64 hex characters)."""
    return isinstance(value, str) and _SHA.fullmatch(value) is not None


def check_sha(value: object, what: str = "sha") -> str:
    """``value`` when it is a full commit id, else :class:`InvalidGitValue`."""
    if not is_sha(value):
        raise InvalidGitValue(f"{what} is not a commit id (40 or 64 hex characters): {_shown(value)}")
    return str(value)


def check_ref(value: object, what: str = "ref") -> str:
    """``value`` when it is a valid full ref name (``refs/heads/main``), else :class:`InvalidGitValue`."""
    if not isinstance(value, str) or not value:
        raise InvalidGitValue(f"{what} is not a ref name: {_shown(value)}")
    if len(value) > MAX_REF_LENGTH or any(part.startswith("-") for part in value.split("/")):
        raise InvalidGitValue(f"{what} is not a valid ref name: {_shown(value)}")
    if not _check_ref_format(value):
        raise InvalidGitValue(f"{what} is not a valid ref name (git check-ref-format): {_shown(value)}")
    return value


def check_branch(value: object, what: str = "branch") -> str:
    """``value`` when ``refs/heads/<value>`` is a valid ref, else :class:`InvalidGitValue`."""
    if not isinstance(value, str) or not value:
        raise InvalidGitValue(f"{what} is not a branch name: {_shown(value)}")
    check_ref(f"refs/heads/{value}", what)
    return value


def _check_ref_format(ref: str) -> bool:
    if "\0" in ref:
        return False
    try:
        proc = subprocess.run(["git", "check-ref-format", ref], capture_output=True, check=False)
    except FileNotFoundError:  # no git: nothing will run it either; keep the strict pattern only
        return re.fullmatch(r"[A-Za-z0-9._/+-]+", ref) is not None and ".." not in ref
    return proc.returncode == 0


def _shown(value: object) -> str:
    """The offending value for an error message: short, printable, never the raw bytes."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
