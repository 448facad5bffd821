"""Connection limits of ``stackplan serve``: nobody holds the receiver's sockets for ever.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive`` seconds, but a connection
that was opened and then sends its request headers slowly, or never, is held with no time limit; 2,000
such stalled connections were held open for ever. So the receiver runs uvicorn with an h11 protocol
that adds:

* a **header read timeout** (``read_timeout``, default 10 s): a connection whose request headers are
  not complete that long after it opened (or after its previous response, for a keep-alive
  connection) is closed;
* a **connection limit** (``max_connections``, default 100). A new connection beyond it *evicts* the
  connection that has waited longest for its request headers (a stalled one, or an idle keep-alive
  one), so a flood of stalled connections cannot lock everybody else out: a client that sends its
  request at once (GitHub, a health check) is served while thousands of stalled sockets come and go.
  Only when every open connection is busy with a request is the newcomer closed at once; uvicorn's
  ``limit_concurrency`` answers 503 to requests beyond the limit. The warning about it is logged at
  most every :data:`LIMIT_LOG_EVERY` seconds, with the count (a flood must not flood the log too);

and the webhook handler bounds the **body read** by the same timeout (408, ``flows/events/app.py``).
GitHub sends a delivery in one go and gives up after 10 s itself, so nothing legitimate is cut off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_READ_TIMEOUT", "guarded_protocol", "server_config"]

DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 100
#: Seconds between two warnings that the connection limit was reached.
LIMIT_LOG_EVERY = 10.0
log = logging.getLogger("stackplan.webhook")


class _Guard:
    """What the connections of one server share (kept on uvicorn's per-server state): how many are
    open and not being closed, the ones waiting for request headers (longest-waiting first), and the
    rate limit of the warning. A count, not a scan of uvicorn's set: a flood calls this per socket."""

    def __init__(self) -> None:
        self.open = 0
        self.waiting: OrderedDict[Any, None] = OrderedDict()
        self.logged_at = float("-inf")
        self.unlogged = 0

    def note_limit(self, limit: int, what: str) -> None:
        self.unlogged += 1
        now = time.monotonic()
        if now - self.logged_at >= LIMIT_LOG_EVERY:
            log.warning("connection limit (%d) reached: %s (%d time(s))", limit, what, self.unlogged)
            self.logged_at, self.unlogged = now, 0


class _GuardedH11Protocol(H11Protocol):
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    _read_timer: asyncio.TimerHandle | None = None
    _armed_cycle: Any = None
    _counted = False  # in _Guard.open

    @property
    def _guard(self) -> _Guard:
        guard = getattr(self.server_state, "stackplan_guard", None)
        if guard is None:
            guard = _Guard()
            self.server_state.stackplan_guard = guard  # type: ignore[attr-defined]
        return guard

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        guard = self._guard
        self._counted = True
        guard.open += 1
        if guard.open > self.max_connections:
            if guard.waiting:  # evict the longest wait for headers: stalled, or idle keep-alive
                oldest, _ = guard.waiting.popitem(last=False)
                oldest._close()
                guard.note_limit(self.max_connections, "closing the longest-idle connection")
            else:  # every connection is busy with a request: this one must come back later
                guard.note_limit(self.max_connections, "closing a new connection")
                self._close()
                return
        self._arm()

    def _close(self) -> None:
        self._disarm()
        self._uncount()
        if not self.transport.is_closing():
            self.transport.close()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self._guard.open -= 1

    def _arm(self) -> None:
        self._disarm()
        self._armed_cycle = self.cycle
        self._read_timer = self.loop.call_later(self.read_timeout, self._on_read_timeout)
        self._guard.waiting[self] = None

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        self._guard.waiting.pop(self, None)

    def _on_read_timeout(self) -> None:
        self._read_timer = None
        if self.cycle is self._armed_cycle and not self.transport.is_closing():
            self._close()  # no complete request headers in time
        else:
            self._guard.waiting.pop(self, None)

    def handle_events(self) -> None:
        super().handle_events()
        if self._read_timer is not None and self.cycle is not self._armed_cycle:
            self._disarm()  # the headers of a new request arrived

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # keep-alive: the next request's headers get the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._uncount()
        super().connection_lost(exc)


def guarded_protocol(read_timeout: float, max_connections: int) -> type[H11Protocol]:
    """An h11 protocol class with these limits (a subclass per setting: uvicorn takes a class)."""
    return type(
        "GuardedH11Protocol",
        (_GuardedH11Protocol,),
        {"read_timeout": read_timeout, "max_connections": max_connections},
    )


def server_config(
    app: Any,
    *,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    **kwargs: Any,
) -> uvicorn.Config:
    """The uvicorn configuration of the receiver (``stackplan serve`` and the tests use this one)."""
    return uvicorn.Config(
        app,
        http=guarded_protocol(read_timeout, max_connections),
        # the protocol holds open connections to max_connections itself; uvicorn counts a connection it
        # is closing as open (until connection_lost), so its 503 check gets one more
        limit_concurrency=max_connections + 1,
        timeout_keep_alive=max(1, int(read_timeout)),
        **kwargs,
    )
