"""The GitHub webhook receiver behind ``stackplan serve`` (Starlette + uvicorn).

Security model, in the order a request meets it:

1. **Size and time**: a body over ``max_body`` bytes is refused with 413 before it is read in full
   (declared Content-Length, then counted while streaming), so a large upload cannot exhaust memory;
   a body not received within ``read_timeout`` gets 408, and headers are bounded by the same time and
   connections by ``max_connections`` (``flows/events/limits.py``).
2. **Signature**: ``X-Hub-Signature-256`` must be the HMAC-SHA256 of the raw body under the shared
   secret (``STACKPLAN_WEBHOOK_SECRET``), compared in constant time. Missing or wrong -> 401 and
   nothing else happens: no JSON parsing, no store write, no git, no Prefect call.
3. **Shape**: unknown events -> 204; ``ping`` -> 200; malformed JSON or a payload missing the fields
   of its event -> 400.
4. **Replay**: the delivery id (``X-GitHub-Delivery``) is claimed in a persisted SQLite store; a
   delivery seen before answers 200 "duplicate" and starts nothing (GitHub's redeliveries and captured
   requests alike).
5. **Work**: an accepted delivery answers 202 at once (GitHub gives up after 10 s) and is planned in
   the background: changed files -> plan -> flow run of ``stackplan-build/build`` (flows/events/dispatch.py),
   then the plan preview comment on the PR (flows/events/github.py, only with ``GITHUB_TOKEN``). The outcome
   is written to the store (``planned``/``started``/``failed``/``nothing-to-build``).
6. **Plan pages**: with a public URL, the whole plan is kept as an HTML page and served read-only at
   ``GET /plans/<hash>.html`` (flows/events/pages.py: hash names only, a strict CSP); the comment links it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from flows.events.deliveries import DeliveryStore, body_digest
from flows.events.dispatch import DispatchError, DispatchSettings, create_build_run, make_plan, run_param
from flows.events.limits import DEFAULT_MAX_CONNECTIONS, DEFAULT_READ_TIMEOUT
from flows.events.pages import HEADERS as PAGE_HEADERS
from flows.events.pages import page_path, page_url, write_page
from flows.events.payloads import BuildTrigger, Ignored, PayloadError, parse_event
from flows.events.signature import SIGNATURE_HEADER, verify

__all__ = ["DEFAULT_MAX_BODY", "SECRET_ENV", "WebhookSettings", "create_app", "process_trigger"]

SECRET_ENV = "STACKPLAN_WEBHOOK_SECRET"
#: GitHub caps payloads at 25 MB; real pull_request / push payloads are tens of kB.
DEFAULT_MAX_BODY = 5 * 1024 * 1024
log = logging.getLogger("stackplan.webhook")


@dataclass(frozen=True)
class WebhookSettings:
    secret: bytes | None = field(repr=False)  # None only with --insecure-no-secret
    dispatch: DispatchSettings
    max_body: int = DEFAULT_MAX_BODY
    allowed_repo: str | None = None  # only events of this "owner/name"
    comment: bool = True  # post / update the plan preview on PRs (needs GITHUB_TOKEN)
    read_timeout: float = DEFAULT_READ_TIMEOUT  # headers and body must arrive within this (s)
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # open connections at once (flows/events/limits.py)
    public_url: str | None = None  # where reviewers reach this server: the comment links its plan pages

    @property
    def store_path(self) -> Path:
        return self.dispatch.state_dir / "webhook-deliveries.sqlite"


#: What a delivery id may look like (GitHub sends a UUID); it names files under the state dir.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: Deeper JSON than this is refused (GitHub's payloads nest about 6 levels).
MAX_JSON_DEPTH = 64


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value of ``body``, or :class:`PayloadError` (never another exception) when it is not
    JSON, nests deeper than ``max_depth`` or holds numbers too long to convert."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise PayloadError(f"JSON nests deeper than {max_depth} levels") from None
    except (UnicodeDecodeError, ValueError):  # includes ints over Python's digit limit
        raise PayloadError("body is not valid JSON") from None
    level: list[Any] = [payload]
    for _ in range(max_depth + 1):
        level = [
            child
            for value in level
            if isinstance(value, (dict, list))
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return payload
    raise PayloadError(f"JSON nests deeper than {max_depth} levels")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def process_trigger(
    trigger: BuildTrigger, delivery: str, settings: WebhookSettings, store: DeliveryStore
) -> None:
    """Plan an accepted delivery and start its build run; the outcome goes to the store (never raises)."""
    from planner.plan.model import Plan

    try:
        plan = make_plan(trigger, settings.dispatch, delivery)
        building = [n for n in plan.nodes if n.skipped is None]
        store.update(delivery, "planned", f"{len(building)} job(s), plan {plan.hash[:12]}")
        if settings.public_url:
            write_page(plan, settings.dispatch.state_dir)  # the whole plan, which the comment links
        run_id = None
        if building:
            run_id = anyio.run(
                lambda: create_build_run(
                    # a large plan goes by reference: Prefect refuses parameters over 512 KiB
                    run_param(plan, settings.dispatch.state_dir),
                    trigger,
                    deployment=settings.dispatch.deployment,
                    idempotency_key=delivery,
                )
            )
            store.update(delivery, "started", f"{len(building)} job(s), plan {plan.hash[:12]}", run_id)
        else:
            store.update(delivery, "nothing-to-build", f"plan {plan.hash[:12]}")
        if run_id:
            _queued_statuses(trigger, plan, run_id)
        if settings.comment and trigger.pr is not None:
            page = page_url(settings.public_url, plan.hash)
            _comment(trigger, Plan.from_dict(plan.to_dict()), run_id, page)
        log.info("delivery %s: %s", delivery, store.get(delivery).status)  # type: ignore[union-attr]
    except (DispatchError, PayloadError) as exc:
        store.update(delivery, "failed", str(exc))
        log.warning("delivery %s failed: %s", delivery, exc)
    except Exception as exc:  # a plan failure must be recorded, not lost in a background task
        store.update(delivery, "failed", f"{type(exc).__name__}: {exc}")
        log.exception("delivery %s failed", delivery)


def lanes_to_build(plan: Any) -> list[str]:
    """The platform lanes (``plan.layers`` keys) holding at least one job that builds."""
    building = {n.id for n in plan.nodes if n.skipped is None}
    return sorted(
        lane for lane, layers in plan.layers.items() if any(j in building for layer in layers for j in layer)
    )


def _queued_statuses(trigger: BuildTrigger, plan: Any, run_id: str) -> None:
    """A pending status per platform as soon as the run exists, so the PR shows the checks to expect
    while the run waits for workers; each platform's own hook then moves it on (flows/events/statuses.py)."""
    from flows.events.github import GitHub, GitHubError, status_context
    from flows.events.statuses import run_url

    github = GitHub.from_env(trigger.repo)
    if not github.enabled:
        return
    for lane in lanes_to_build(plan):
        try:
            github.set_status(
                trigger.head_sha,
                "pending",
                context=status_context(lane),
                description="queued",
                target_url=run_url(run_id),
            )
        except GitHubError as exc:
            log.warning("could not post the queued status of %s: %s", lane, exc)
            return


def _comment(trigger: BuildTrigger, plan: Any, run_id: str | None, page: str | None) -> None:
    from flows.events.github import GitHub, GitHubError
    from flows.events.preview import preview_markdown

    github = GitHub.from_env(trigger.repo)
    if not github.enabled or trigger.pr is None:
        return
    from flows.events.statuses import run_url

    url = run_url(run_id) if run_id else None
    try:
        github.upsert_preview_comment(
            trigger.pr,
            lambda previous: preview_markdown(
                plan, run_url=url, page_url=page, head_sha=trigger.head_sha, previous=previous
            ),
        )
    except GitHubError as exc:
        log.warning("could not post the preview on #%s: %s", trigger.pr, exc)


def create_app(settings: WebhookSettings) -> Starlette:
    from planner.redact import add_server_paths, install_log_redaction

    add_server_paths(repo=settings.dispatch.repo_dir, state=settings.dispatch.state_dir)
    install_log_redaction()  # every log record of the server process, whatever logger made it
    store = DeliveryStore(settings.store_path)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def plan_page(request: Request) -> Response:
        path = page_path(settings.dispatch.state_dir, request.path_params["name"])
        if path is None:
            return _error(404, "no such plan page")
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    async def webhook(request: Request) -> Response:
        try:
            with anyio.fail_after(settings.read_timeout):
                body = await _read_limited(request, settings.max_body)
        except TimeoutError:
            return _error(408, f"body not received within {settings.read_timeout:g} s")
        if body is None:
            return _error(413, f"body larger than {settings.max_body} bytes")
        if settings.secret is not None and not verify(
            settings.secret, body, request.headers.get(SIGNATURE_HEADER)
        ):
            log.warning("rejected a delivery with a missing or wrong signature from %s", request.client)
            return _error(401, "missing or invalid X-Hub-Signature-256")
        event = request.headers.get("x-github-event", "")
        delivery = request.headers.get("x-github-delivery", "")
        if not event or not delivery:
            return _error(400, "missing X-GitHub-Event or X-GitHub-Delivery")
        if not _DELIVERY_ID.fullmatch(delivery) or len(event) > 64:
            return _error(400, "malformed X-GitHub-Delivery or X-GitHub-Event")
        try:
            payload = parse_json(body)
        except PayloadError as exc:
            return _error(400, str(exc))
        if event == "ping":
            return JSONResponse(
                {"status": "pong", "zen": payload.get("zen") if isinstance(payload, dict) else None}
            )
        if event not in ("pull_request", "push"):
            return Response(status_code=204)
        try:
            result = parse_event(event, payload, allowed_repo=settings.allowed_repo)
        except PayloadError as exc:
            return _error(400, f"malformed {event} payload: {exc}")
        status = "ignored" if isinstance(result, Ignored) else "accepted"
        if not store.claim(delivery, event, status, digest=body_digest(body)):
            log.info("delivery %s replayed: ignored", delivery)
            return JSONResponse({"status": "duplicate", "delivery": delivery})
        if isinstance(result, Ignored):
            store.update(delivery, "ignored", result.reason)
            return JSONResponse({"status": "ignored", "reason": result.reason, "delivery": delivery})
        task = BackgroundTask(anyio.to_thread.run_sync, process_trigger, result, delivery, settings, store)
        return JSONResponse(
            {"status": "accepted", "delivery": delivery, "head_sha": result.head_sha, "pr": result.pr},
            status_code=202,
            background=task,
        )

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/health", healthz, methods=["GET"]),
        Route("/webhook", webhook, methods=["POST"]),
        Route("/plans/{name}", plan_page, methods=["GET"]),
        Route("/", webhook, methods=["POST"]),
    ]
    return Starlette(routes=routes)
