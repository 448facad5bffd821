"""The webhook receiver over real HTTP on loopback: signatures, limits, malformed input, replays."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from flows.events.app import WebhookSettings
from flows.events.deliveries import DeliveryStore
from flows.events.dispatch import DispatchSettings
from flows.events.signature import sign
from tests.webhook_server import RunningReceiver

SECRET = b"s3cr3t-for-tests"
PROJECT = Path(__file__).resolve().parent.parent


def pr_payload(action="opened", number=12, head="a" * 40, base="b" * 40, repo="octo/recipes"):
    return {
        "action": action,
        "number": number,
        "pull_request": {"head": {"sha": head, "ref": "feature"}, "base": {"sha": base, "ref": "main"}},
        "repository": {"full_name": repo, "default_branch": "main"},
    }


def post(url, event, payload, *, secret=SECRET, delivery=None, signature=None, raw=None, headers=None):
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


def wait_settled(store: DeliveryStore, delivery: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = store.get(delivery)
        if row is not None and row.status not in ("accepted", "planned"):
            return row
        time.sleep(0.05)
    raise AssertionError(f"delivery {delivery} still {store.get(delivery)}")


@pytest.fixture
def settings(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    return WebhookSettings(
        secret=SECRET,
        dispatch=DispatchSettings(repo_dir=repo, state_dir=tmp_path / "state"),
        max_body=64 * 1024,
    )


@pytest.fixture
def receiver(settings):
    with RunningReceiver(settings) as running:
        yield running


def store_of(settings) -> DeliveryStore:
    return DeliveryStore(settings.store_path)


def test_healthz(receiver):
    r = httpx.get(receiver.url + "/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_missing_signature_is_401_and_records_nothing(receiver, settings):
    r = post(receiver.url, "pull_request", pr_payload(), secret=None)
    assert r.status_code == 401
    assert store_of(settings).all() == []


def test_wrong_secret_and_tampered_body_are_401(receiver, settings):
    assert post(receiver.url, "pull_request", pr_payload(), secret=b"other").status_code == 401
    body = json.dumps(pr_payload()).encode()
    tampered = body.replace(b'"number": 12', b'"number": 13')
    r = post(receiver.url, "pull_request", None, raw=tampered, signature=sign(SECRET, body))
    assert r.status_code == 401
    assert post(receiver.url, "pull_request", pr_payload(), signature="sha1=abc").status_code == 401
    assert post(receiver.url, "pull_request", pr_payload(), signature="sha256=").status_code == 401
    assert store_of(settings).all() == []


def test_ping_is_answered(receiver):
    r = post(receiver.url, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1})
    assert (r.status_code, r.json()["status"]) == (200, "pong")


def test_unknown_event_is_204(receiver, settings):
    r = post(receiver.url, "issues", {"action": "opened"})
    assert r.status_code == 204 and r.content == b""
    assert store_of(settings).all() == []


def test_oversized_bodies_are_413(receiver, settings):
    big = {"padding": "x" * (settings.max_body + 10), **pr_payload()}
    assert post(receiver.url, "pull_request", big).status_code == 413
    # chunked upload: no Content-Length to trust, the receiver counts while reading
    body = json.dumps(big).encode()

    def chunks():
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    r = httpx.post(
        receiver.url + "/webhook",
        content=chunks(),
        timeout=30,
        headers={
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": "big-1",
            "X-Hub-Signature-256": sign(SECRET, body),
        },
    )
    assert r.status_code == 413
    assert store_of(settings).all() == []


def test_malformed_json_and_payload_are_400(receiver, settings):
    raw = b'{"action": "opened", "number": '
    assert post(receiver.url, "pull_request", None, raw=raw).status_code == 400
    assert post(receiver.url, "pull_request", None, raw=b"\xff\xfe").status_code == 400
    r = post(receiver.url, "pull_request", {"action": "opened", "repository": {"full_name": "o/r"}})
    assert r.status_code == 400
    assert "missing pull_request.head.sha" in r.json()["error"]
    assert post(receiver.url, "push", ["not", "an", "object"]).status_code == 400
    assert store_of(settings).all() == []


def test_missing_delivery_id_is_400(receiver):
    body = json.dumps(pr_payload()).encode()
    r = httpx.post(
        receiver.url + "/webhook",
        content=body,
        headers={"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": sign(SECRET, body)},
    )
    assert r.status_code == 400


def test_ignored_actions_and_branches_are_recorded_not_built(receiver, settings):
    r = post(receiver.url, "pull_request", pr_payload(action="closed"), delivery="d-closed")
    assert (r.status_code, r.json()["status"]) == (200, "ignored")
    push = {
        "ref": "refs/heads/feature",
        "before": "b" * 40,
        "after": "a" * 40,
        "repository": {"full_name": "octo/recipes", "default_branch": "main"},
        "commits": [],
    }
    r = post(receiver.url, "push", push, delivery="d-push")
    assert r.json()["status"] == "ignored" and "default branch" in r.json()["reason"]
    assert [(d.id, d.status) for d in sorted(store_of(settings).all(), key=lambda d: d.id)] == [
        ("d-closed", "ignored"),
        ("d-push", "ignored"),
    ]


def test_accepted_delivery_then_replay_does_nothing_twice_even_after_restart(settings):
    payload = pr_payload(head="c" * 40)
    with RunningReceiver(settings) as running:
        first = post(running.url, "pull_request", payload, delivery="dup-1")
        assert (first.status_code, first.json()["status"]) == (202, "accepted")
        assert first.json()["head_sha"] == "c" * 40 and first.json()["pr"] == 12
        row = wait_settled(store_of(settings), "dup-1")
        # the checkout is empty: the commit is unknown, and that is recorded, located
        assert row.status == "failed" and "not in" in row.detail
        # a failed delivery may be redelivered (GitHub's "Redeliver" keeps the id): it is tried again
        second = post(running.url, "pull_request", payload, delivery="dup-1")
        assert (second.status_code, second.json()["status"]) == (202, "accepted")
        assert wait_settled(store_of(settings), "dup-1").status == "failed"
        # an ignored delivery (as a started one) is never processed twice
        closed = pr_payload(action="closed")
        assert post(running.url, "pull_request", closed, delivery="dup-2").json()["status"] == "ignored"
        again = post(running.url, "pull_request", closed, delivery="dup-2")
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    with RunningReceiver(settings) as restarted:
        third = post(restarted.url, "pull_request", closed, delivery="dup-2")
        assert third.json()["status"] == "duplicate"
    assert [(d.id, d.status) for d in store_of(settings).all()] == [("dup-1", "failed"), ("dup-2", "ignored")]


def test_other_repositories_are_ignored_when_one_is_configured(tmp_path):
    s = WebhookSettings(
        secret=SECRET,
        dispatch=DispatchSettings(repo_dir=tmp_path, state_dir=tmp_path / "st"),
        allowed_repo="octo/recipes",
    )
    with RunningReceiver(s) as running:
        r = post(running.url, "pull_request", pr_payload(repo="evil/fork"))
        assert r.json()["status"] == "ignored"


def test_serve_refuses_to_start_without_a_secret(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / "prefect")}
    proc = subprocess.run(
        [sys.executable, "-m", "stackplan", "serve", "--repo-dir", str(tmp_path)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "STACKPLAN_WEBHOOK_SECRET" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_command_runs_a_real_server(tmp_path):
    """`stackplan serve` as a user starts it: a subprocess, a free port, signed and unsigned pings."""
    import os
    import socket
    import subprocess as sp

    from tests.gitrepo import init

    repo = init(tmp_path / "repo")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "STACKPLAN_WEBHOOK_SECRET": SECRET.decode(),
        "STACKPLAN_HOME": str(tmp_path / "st"),
        "PREFECT_API_URL": "http://127.0.0.1:9/api",
    }
    proc = sp.Popen(
        [sys.executable, "-m", "stackplan", "serve", "--repo-dir", str(repo), "--port", str(port)],
        cwd=PROJECT,
        env=env,
        stdout=sp.PIPE,
        stderr=sp.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
        assert post(url, "ping", {"zen": "z"}).status_code == 200
        assert post(url, "ping", {"zen": "z"}, secret=None).status_code == 401
        assert (tmp_path / "st" / "webhook-deliveries.sqlite").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log = proc.stdout.read().decode()
    assert SECRET.decode() not in log
