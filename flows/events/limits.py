"""Connection limits of ``stackplan serve``: nobody holds the receiver's sockets for ever.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive`` seconds, but a connection
that was opened and then sends its request headers slowly, or never, is held with no time limit; 2,000
such stalled connections were held open for ever. So the receiver runs uvicorn with an h11 protocol
that adds:

* a **header read timeout** (``read_timeout``, default 10 s): a connection whose request headers are
  not complete that long after it opened (or after its previous response, for a keep-alive
  connection) is closed;
* a **connection limit** (``max_connections``, default 100): a connection beyond it is closed at once,
  and uvicorn's ``limit_concurrency`` answers 503 to requests beyond it;

and the webhook handler bounds the **body read** by the same timeout (408, ``flows/events/app.py``).
GitHub sends a delivery in one go and gives up after 10 s itself, so nothing legitimate is cut off.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DEFAULT_MAX_CONNECTIONS", "DEFAULT_READ_TIMEOUT", "guarded_protocol", "server_config"]

DEFAULT_READ_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 100
log = logging.getLogger("stackplan.webhook")


class _GuardedH11Protocol(H11Protocol):
    read_timeout: float = DEFAULT_READ_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    _read_timer: asyncio.TimerHandle | None = None
    _armed_cycle: Any = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("connection limit (%d) reached: closing a new connection", self.max_connections)
            transport.close()
            return
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._armed_cycle = self.cycle
        self._read_timer = self.loop.call_later(self.read_timeout, self._on_read_timeout)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _on_read_timeout(self) -> None:
        self._read_timer = None
        if self.cycle is self._armed_cycle and not self.transport.is_closing():
            self.transport.close()  # no complete request headers in time

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
        limit_concurrency=max_connections,
        timeout_keep_alive=max(1, int(read_timeout)),
        **kwargs,
    )
