"""The webhook side of the tests: a real uvicorn server running the webhook app on a loopback port,
the deliveries a test sends it (signed as GitHub signs them), waiting for one to settle, and the build
deployment the receiver dispatches to."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import uvicorn

from flows.events.app import WebhookSettings, create_app
from flows.events.deliveries import DeliveryStore
from flows.events.limits import server_config
from flows.events.signature import sign

#: The webhook secret the tests' receivers are configured with.
SECRET = b"s3cr3t-for-tests"


def pr_payload(action="opened", number=12, head="a" * 40, base="b" * 40, repo="octo/recipes"):
    """The parts of a GitHub ``pull_request`` event the receiver reads."""
    return {
        "action": action,
        "number": number,
        "pull_request": {"head": {"sha": head, "ref": "feature"}, "base": {"sha": base, "ref": "main"}},
        "repository": {"full_name": repo, "default_branch": "main"},
    }


def post(url, event, payload, *, secret=SECRET, delivery=None, signature=None, raw=None, headers=None):
    """Deliver ``payload`` (or the bytes ``raw``) as GitHub does: signed with ``secret`` unless a
    ``signature`` is given (``secret=None``: unsigned), a new delivery id unless one is given."""
    body = raw if raw is not None else json.dumps(payload).encode()
    h = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    if signature is not None:
        h["X-Hub-Signature-256"] = signature
    elif secret is not None:
        h["X-Hub-Signature-256"] = sign(secret, body)
    h.update(headers or {})
    return httpx.post(url + "/webhook", content=body, headers=h, timeout=30)


def wait_settled(
    store: DeliveryStore,
    delivery: str,
    timeout: float = 60.0,
    *,
    poll: float = 0.05,
    meanwhile: Callable[[], None] | None = None,
):
    """The delivery's row once it is past ``accepted`` / ``planned``; ``meanwhile`` is called at each poll
    (a check that must hold all along)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if meanwhile is not None:
            meanwhile()
        row = store.get(delivery)
        if row is not None and row.status not in ("accepted", "planned"):
            return row
        time.sleep(poll)
    raise AssertionError(f"delivery {delivery} still {store.get(delivery)}")


def deploy_build_flow() -> None:
    """Deployment stackplan-build/build: the real flow when importable, else a flow of its shape."""
    try:
        from flows.run.build_flow import build_flow
    except ImportError:
        from prefect import flow

        @flow(name="stackplan-build")
        def build_flow(
            plan: dict,
            builder: str = "dry-run",
            channel: str = "out/channel",
            parallelism: int = 4,
            pr: int | None = None,
            head_sha: str | None = None,
            repo: str | None = None,
        ) -> None:
            return None

    build_flow.to_deployment(name="build").apply()


def read_flow_run(run_id):
    """The flow run ``run_id`` as the Prefect API (the test harness's) has it: parameters, state, tags."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


class RunningReceiver:
    """The app of ``settings`` served on a free loopback port (``url``) for the ``with`` block."""

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
