"""Real HTTP servers on loopback: one that records what it gets (the stand-in for GitHub and Slack),
and one that serves a directory (a channel, as conda clients read it).

The network is closed in tests and GitHub/Slack are out of reach, so they are replaced by a real
server speaking HTTP on 127.0.0.1: our clients do real requests (httpx, TLS aside), the server keeps
each request (method, path, headers, JSON body) and answers through a small responder function.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import pytest


@dataclass
class Recorded:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON


#: Answers a request: (status, JSON body) or (status, JSON body, extra headers).
Responder = Callable[[Recorded], tuple[Any, ...]]


@dataclass
class LoopbackServer:
    """``with LoopbackServer(responder) as srv: ... srv.url ... srv.requests``."""

    responder: Responder = field(default=lambda req: (200, {}))
    requests: list[Recorded] = field(default_factory=list)

    def __enter__(self) -> LoopbackServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                parts = urlsplit(self.path)
                req = Recorded(self.command, parts.path, parts.query, dict(self.headers.items()), body)
                outer.requests.append(req)
                status, answer, *extra = outer.responder(req)
                data = (
                    b""
                    if answer is None
                    else (answer if isinstance(answer, bytes) else json.dumps(answer).encode())
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class FakeGitHub:
    """Just enough of GitHub's REST API for statuses and issue comments, keeping state in memory."""

    def __init__(self) -> None:
        self.statuses: list[tuple[str, dict[str, Any]]] = []  # (sha, body)
        self.comments: dict[int, list[dict[str, Any]]] = {}  # pr -> comments
        self._next_id = 1000
        self.fail_with: int | None = None
        self.base_url = ""  # set once the server runs, for Link headers
        self.server: LoopbackServer | None = None  # the server it answers on (github_on_loopback)

    def __call__(self, req: Recorded) -> tuple[int, Any]:
        if self.fail_with:
            return self.fail_with, {"message": "Bad credentials"}
        parts = req.path.strip("/").split("/")
        # repos/{owner}/{name}/statuses/{sha}
        if req.method == "POST" and len(parts) == 5 and parts[3] == "statuses":
            self.statuses.append((parts[4], req.body))
            return 201, {"id": len(self.statuses), **req.body}
        # repos/{owner}/{name}/issues/{pr}/comments
        if len(parts) == 6 and parts[3] == "issues" and parts[5] == "comments":
            pr = int(parts[4])
            if req.method == "GET":  # paginated like GitHub: per_page, page, Link rel="next"
                query = dict(p.split("=", 1) for p in req.query.split("&") if "=" in p)
                per_page, page = int(query.get("per_page", 30)), int(query.get("page", 1))
                comments = self.comments.get(pr, [])
                chunk = comments[(page - 1) * per_page : page * per_page]
                links = {}
                if page * per_page < len(comments):
                    links["Link"] = (
                        f'<{self.base_url}{req.path}?per_page={per_page}&page={page + 1}>; rel="next"'
                    )
                return 200, chunk, links
            if req.method == "POST":
                self._next_id += 1
                comment = {"id": self._next_id, "body": req.body["body"]}
                self.comments.setdefault(pr, []).append(comment)
                return 201, comment
        # repos/{owner}/{name}/issues/comments/{id}
        if req.method == "PATCH" and len(parts) == 6 and parts[4] == "comments":
            for comments in self.comments.values():
                for comment in comments:
                    if comment["id"] == int(parts[5]):
                        comment["body"] = req.body["body"]
                        return 200, comment
        return 404, {"message": "Not Found"}


@contextlib.contextmanager
def github_on_loopback(
    monkeypatch: pytest.MonkeyPatch | None = None, token: str = ""
) -> Iterator[FakeGitHub]:
    """A :class:`FakeGitHub` answering on loopback for the ``with`` block (``.server``, ``.base_url`` set).
    With ``monkeypatch``, stackplan's GitHub client is pointed at it: ``GITHUB_API_URL``, and
    ``GITHUB_TOKEN`` when a ``token`` is given."""
    github = FakeGitHub()
    with LoopbackServer(github) as server:
        github.server = server
        github.base_url = server.url
        if monkeypatch is not None:
            monkeypatch.setenv("GITHUB_API_URL", server.url)
            if token:
                monkeypatch.setenv("GITHUB_TOKEN", token)
        yield github


@contextlib.contextmanager
def serving_directory(directory: Path) -> Iterator[str]:
    """The files under ``directory`` over HTTP on loopback for the ``with`` block; yields its URL
    (``http://127.0.0.1:PORT``). Clients must not go through a proxy for it (``NO_PROXY``)."""

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(directory), **kwargs)

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
