"""A real uvicorn server running the webhook app on a loopback port, for tests."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from flows.events.app import WebhookSettings, create_app
from flows.events.limits import server_config


class RunningReceiver:
    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = server_config(
            create_app(settings),
            read_timeout=settings.read_timeout,
            max_connections=settings.max_connections,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> RunningReceiver:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()
