"""The full plan of a pull request as an HTML page that ``serve`` keeps and serves.

Why: the PR comment must fit in GitHub's 65,536 characters, so on a pin change it cuts; the cut line
and the comment's footer point here, to the whole plan as the explorable graph page of
:mod:`planner.export.html`, at ``<public-url>/plans/<plan hash>.html``.

The pages live in ``<state>/pages/``, one per plan hash (the same plan is one page, however many
deliveries planned it), written atomically and redacted like everything else the server publishes
(:mod:`planner.redact`). At most :data:`KEEP` pages are kept: the oldest go first.

The route only answers names that are a plan hash (hex) plus ``.html``: nothing of the request
reaches a path. Pages are sent with a Content-Security-Policy that lets the page's own inline script
and style run and nothing else (no network, no frames), and ``nosniff``.

>>> page_name("0123abcd" * 8)
'0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd.html'
>>> page_name("../etc/passwd")
Traceback (most recent call last):
...
ValueError: not a plan hash: '../etc/passwd'
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from planner.plan.model import Plan

__all__ = ["HEADERS", "KEEP", "page_name", "page_path", "page_url", "write_page"]

#: Pages kept under ``<state>/pages`` (the newest; a page is a few hundred kB to a few MB).
KEEP = 200
_HASH = re.compile(r"[0-9a-f]{12,64}")
#: Response headers of a page: its inline script and style only; nothing fetched, nothing framed.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:;"
        " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=3600",
}


def page_name(plan_hash: str) -> str:
    """The file (and URL) name of a plan's page; ValueError unless ``plan_hash`` is a hex hash."""
    if not _HASH.fullmatch(plan_hash):
        raise ValueError(f"not a plan hash: {plan_hash!r}")
    return f"{plan_hash}.html"


def page_path(state_dir: Path, name: str) -> Path | None:
    """The stored page for a requested ``name`` (``<hash>.html``), or None (not a page name, or not kept)."""
    if not name.endswith(".html"):
        return None
    try:
        path = state_dir / "pages" / page_name(name[: -len(".html")])
    except ValueError:
        return None
    return path if path.is_file() else None


def page_url(public_url: str | None, plan_hash: str) -> str | None:
    """Where reviewers open the page: ``<public_url>/plans/<hash>.html``; None without a public URL."""
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}/plans/{page_name(plan_hash)}"


def write_page(plan: Plan, state_dir: Path, *, keep: int = KEEP) -> Path:
    """Write ``plan``'s page (redacted, atomically) and drop the oldest pages over ``keep``."""
    from planner.export.html import to_html
    from planner.redact import default_redactor

    pages = state_dir / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    target = pages / page_name(plan.hash)
    text = default_redactor().text(to_html(plan))
    fd, tmp = tempfile.mkstemp(dir=pages, prefix=".page-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    kept = sorted(pages.glob("*.html"), key=lambda p: (p.stat().st_mtime, p.name), reverse=True)
    for old in kept[keep:]:
        old.unlink(missing_ok=True)
    return target
