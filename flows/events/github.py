"""Reporting to GitHub: commit statuses per platform and one plan-preview comment per pull request.

Only the two REST calls stackplan needs, through httpx:

- ``POST /repos/{repo}/statuses/{sha}`` with context ``stackplan/<platform>`` (pending when a
  platform's run starts, then success or failure, linking to the Prefect run);
- the preview comment, found by the hidden marker :data:`PREVIEW_MARKER` among the PR's comments and
  PATCHed in place, so a busy PR carries one comment that always shows the latest plan.

Configuration comes from the environment: ``GITHUB_TOKEN`` (no token: nothing is posted, the calls
return None, so local runs and forks need no special casing) and ``GITHUB_API_URL`` (GitHub
Enterprise, or the loopback fake in tests). The token is never logged: it is kept out of reprs and
scrubbed from every error message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from planner.errors import StackplanError

__all__ = [
    "DEFAULT_API_URL",
    "PREVIEW_MARKER",
    "STATUS_STATES",
    "GitHub",
    "GitHubError",
    "status_context",
]

DEFAULT_API_URL = "https://api.github.com"
#: Hidden first line of our PR comment: how we find it again to update it in place.
PREVIEW_MARKER = "<!-- stackplan-preview -->"
#: States GitHub accepts for a commit status.
STATUS_STATES = ("error", "failure", "pending", "success")
#: GitHub rejects status descriptions longer than this.
_MAX_DESCRIPTION = 140

log = logging.getLogger("stackplan.github")


def status_context(platform: str) -> str:
    """The commit-status context of one platform: one check line per platform on the PR."""
    return f"stackplan/{platform}"


class GitHubError(StackplanError, RuntimeError):
    """A GitHub API call failed: method, path, status and GitHub's message, never the token."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class GitHub:
    """A small GitHub REST client bound to one repository ("owner/name").

    >>> GitHub("octo/recipes", token="ghp_secret")
    GitHub(repo='octo/recipes', api_url='https://api.github.com', token=<redacted>)
    """

    repo: str
    token: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    timeout: float = 10.0

    @classmethod
    def from_env(cls, repo: str, environ: Mapping[str, str] | None = None) -> GitHub:
        env = os.environ if environ is None else environ
        return cls(
            repo=repo,
            token=env.get("GITHUB_TOKEN") or None,
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
        )

    def __repr__(self) -> str:
        token = "<redacted>" if self.token else None
        return f"GitHub(repo={self.repo!r}, api_url={self.api_url!r}, token={token})"

    @property
    def enabled(self) -> bool:
        """Whether anything will be posted (a token is configured)."""
        return bool(self.token)

    # ------------------------------------------------------------------------------------------ statuses

    def set_status(
        self,
        sha: str,
        state: str,
        *,
        context: str,
        description: str = "",
        target_url: str | None = None,
    ) -> dict[str, Any] | None:
        """Create a commit status; returns GitHub's answer, or None when no token is configured."""
        if state not in STATUS_STATES:
            raise ValueError(f"status state must be one of {STATUS_STATES}, not {state!r}")
        if not self.enabled:
            log.debug("no GITHUB_TOKEN: status %s=%s for %s not posted", context, state, sha)
            return None
        body: dict[str, Any] = {
            "state": state,
            "context": context,
            "description": description[:_MAX_DESCRIPTION],
        }
        if target_url:
            body["target_url"] = target_url
        return self._request("POST", f"/repos/{self.repo}/statuses/{sha}", json=body)

    # ------------------------------------------------------------------------------------------ comments

    def upsert_preview_comment(
        self, pr: int, markdown: str | Callable[[str | None], str]
    ) -> dict[str, Any] | None:
        """Post the plan preview on PR ``pr``, or edit our earlier preview comment in place: one
        comment per PR, always showing the latest plan.

        Our comment is the first one whose body starts with :data:`PREVIEW_MARKER`. ``markdown`` may be
        a function of the earlier comment's body (None when there is none), so the new body can say
        what changed since. Returns GitHub's answer (the comment), or None when no token is configured.
        """
        if not self.enabled:
            log.debug("no GITHUB_TOKEN: preview comment on #%s not posted", pr)
            return None
        existing = self.find_preview_comment(pr)
        if callable(markdown):
            markdown = markdown(None if existing is None else str(existing.get("body") or ""))
        body = markdown if markdown.startswith(PREVIEW_MARKER) else f"{PREVIEW_MARKER}\n{markdown}"
        if existing is not None:
            if existing.get("body") == body:
                return existing
            return self._request(
                "PATCH", f"/repos/{self.repo}/issues/comments/{existing['id']}", json={"body": body}
            )
        return self._request("POST", f"/repos/{self.repo}/issues/{pr}/comments", json={"body": body})

    def find_preview_comment(self, pr: int) -> dict[str, Any] | None:
        for comment in self._paginate(f"/repos/{self.repo}/issues/{pr}/comments"):
            if str(comment.get("body") or "").startswith(PREVIEW_MARKER):
                return comment
        return None

    # ------------------------------------------------------------------------------------------ transport

    def _client(self) -> httpx.Client:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "stackplan",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=self.timeout)

    def _paginate(self, path: str) -> Iterator[dict[str, Any]]:
        url: str | None = f"{path}?per_page=100"
        with self._client() as client:
            while url:
                response = self._send(client, "GET", url)
                yield from response.json()
                url = response.links.get("next", {}).get("url")

    def _request(self, method: str, path: str, *, json: Any = None) -> dict[str, Any]:
        with self._client() as client:
            return self._send(client, method, path, json=json).json()

    def _send(self, client: httpx.Client, method: str, url: str, *, json: Any = None) -> httpx.Response:
        if json is not None:  # the last line: no configured secret, no server path is ever posted
            from planner.redact import default_redactor

            json = default_redactor().value(json)
        try:
            response = client.request(method, url, json=json)
        except httpx.HTTPError as exc:
            raise GitHubError(self._scrub(f"{method} {url}: {type(exc).__name__}: {exc}")) from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("message", "")
            except ValueError:
                detail = response.text[:200]
            raise GitHubError(
                self._scrub(f"{method} {url}: HTTP {response.status_code} {detail}".rstrip()),
                status=response.status_code,
            )
        log.info("%s %s -> %s", method, url, response.status_code)
        return response

    def _scrub(self, text: str) -> str:
        return text.replace(self.token, "<redacted>") if self.token else text
