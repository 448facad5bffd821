"""The last line of defence: configured secrets and the server's absolute paths never leave stackplan.

Renders cannot read the environment (``planner.render.environ``), so a recipe cannot copy a token into
its version on purpose; but a secret or a server path can still reach text stackplan posts or stores
by other ways (an error message quoting a path, a library echoing its settings, a future bug). So
everything stackplan *posts* (PR comments, commit statuses, Slack messages) or *stores* where others
read it (the delivery store, flow-run parameters, artifacts, log records) goes through
:class:`Redactor` last:

* every configured secret value (:data:`SECRET_ENV_NAMES` present in the environment) becomes
  ``<redacted>``, whatever its length: a short secret blanks ordinary text where it happens to occur,
  which is ugly but never a leak. ``stackplan serve`` refuses to start with a secret shorter than
  :data:`MIN_SECRET_LENGTH` (:func:`short_secrets`): such a secret is guessable, and redacting it would
  garble every comment;
* a per-commit checkout of the server (``<state>/checkouts/<sha>/``) is cut off, so a recipe path
  reads as in the repository; the state dir, the repository clone, the working directory and
  ``$HOME`` become ``<state>``, ``<repo>``, ``<cwd>`` and ``~``.

The server registers its clone and state dir with :func:`add_server_paths`; :func:`default_redactor`
combines them with the environment of the moment (cheap: built per use).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "MIN_SECRET_LENGTH",
    "SECRET_ENV_NAMES",
    "Redactor",
    "add_server_paths",
    "default_redactor",
    "install_log_redaction",
    "short_secrets",
]

#: Environment variables whose values are credentials stackplan (or Prefect) is configured with.
SECRET_ENV_NAMES = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "STACKPLAN_WEBHOOK_SECRET",
    "SLACK_WEBHOOK_URL",
    "PREFECT_API_KEY",
    "PREFECT_API_AUTH_STRING",
    "ANACONDA_API_TOKEN",
    "BINSTAR_TOKEN",
)
#: Shortest secret ``stackplan serve`` accepts (the redactor blanks shorter ones too).
MIN_SECRET_LENGTH = 6
REDACTED = "<redacted>"

_SERVER_PATHS: dict[str, str] = {}


class Redactor:
    """Replaces secrets and server paths in text and in JSON-like values."""

    def __init__(self, secrets: Iterable[str] = (), paths: Mapping[str, str] | None = None) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        # one pass, longest first: a secret inside another is not left half-replaced, and a secret
        # that occurs in the marker itself ("act") cannot match text the pass inserted
        self._secret_re = re.compile("|".join(map(re.escape, self.secrets))) if self.secrets else None
        pairs = sorted((paths or {}).items(), key=lambda kv: len(kv[0]), reverse=True)
        self.paths = [(p.rstrip("/"), label) for p, label in pairs if p and p.rstrip("/") not in ("", ".")]
        self._checkouts = [
            re.compile(re.escape(p) + r"/checkouts/[0-9a-fA-F]{40,64}(?:/|\b)")
            for p, label in self.paths
            if label == "<state>"
        ]

    def text(self, text: str) -> str:
        """``text`` with every secret and server path replaced."""
        if not isinstance(text, str) or not text:
            return text
        if self._secret_re is not None:
            text = self._secret_re.sub(REDACTED, text)
        if not self.paths or "/" not in text:
            return text
        for pattern in self._checkouts:
            text = pattern.sub("", text)
        for path, label in self.paths:
            if path in text:
                text = re.sub(re.escape(path) + r"(?=/|\b|$)", label, text)
        return text

    def value(self, value: Any, *, keep: Iterable[str] = ()) -> Any:
        """A JSON-like value with every string redacted; top-level keys in ``keep`` are left as they are
        (a build run's ``root``: the worker needs the path it names)."""
        kept = set(keep)
        if isinstance(value, Mapping):
            return {k: (v if k in kept else self.value(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


def add_server_paths(**paths: str | Path | None) -> None:
    """Register the server's own directories (``repo=...``, ``state=...``) for every later redaction."""
    for label, path in paths.items():
        if path:
            _SERVER_PATHS[str(Path(path).resolve())] = f"<{label}>"


def short_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The names of the configured secrets (in ``environ``, default the process environment) shorter
    than :data:`MIN_SECRET_LENGTH` characters: what ``stackplan serve`` refuses to start with."""
    env = os.environ if environ is None else environ
    return [name for name in SECRET_ENV_NAMES if 0 < len(env.get(name, "")) < MIN_SECRET_LENGTH]


def default_redactor(environ: Mapping[str, str] | None = None) -> Redactor:
    """A redactor for the secrets configured in ``environ`` (default: the process environment) and the
    server's paths (registered ones, ``$STACKPLAN_HOME``, the working directory, ``$HOME``)."""
    env = os.environ if environ is None else environ
    paths: dict[str, str] = {}
    home = env.get("HOME")
    if home and home != "/":
        paths[home] = "~"
    cwd = os.getcwd()
    if cwd != "/":
        paths[cwd] = "<cwd>"
    state = env.get("STACKPLAN_HOME")
    if state:
        paths[str(Path(state).resolve())] = "<state>"
    paths.update(_SERVER_PATHS)
    return Redactor((env.get(name, "") for name in SECRET_ENV_NAMES), paths)


class _Formatter(logging.Formatter):
    pass


_FACTORY_INSTALLED: list[Any] = []


def install_log_redaction() -> None:
    """Redact every log record of this process as it is made (message, arguments and traceback), for
    all loggers and handlers alike (a log record factory). Idempotent."""
    if _FACTORY_INSTALLED:
        return
    previous = logging.getLogRecordFactory()
    formatter = _Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor = default_redactor()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to logging's own error path
            return record
        record.msg, record.args = redactor.text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redactor.text(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _FACTORY_INSTALLED.append(factory)
