"""The webhook receiver over real HTTP on loopback: signatures, limits, malformed input, replays."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from flows.events.app import WebhookSettings
from flows.events.deliveries import DeliveryStore
from flows.events.dispatch import DispatchSettings
from flows.events.signature import sign
from tests.stackplan_cli import run_cli, start_cli
from tests.webhook_server import SECRET, RunningReceiver, post, pr_payload, wait_settled


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
    proc = run_cli(["serve", "--repo-dir", str(tmp_path)], env, timeout=120)
    assert proc.returncode == 2
    assert "STACKPLAN_WEBHOOK_SECRET" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["STACKPLAN_WEBHOOK_SECRET", "GITHUB_TOKEN"])
def test_serve_refuses_to_start_with_a_secret_too_short_to_be_one(tmp_path, name):
    from tests.gitrepo import init

    repo = init(tmp_path / "repo")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "STACKPLAN_WEBHOOK_SECRET": SECRET.decode(),
        name: "k3y",
    }
    proc = run_cli(["serve", "--repo-dir", str(repo)], env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"{name} is shorter than 6 characters" in proc.stderr
    assert "k3y" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr


def test_serve_command_runs_a_real_server(tmp_path):
    """`stackplan serve` as a user starts it: a subprocess, a free port, signed and unsigned pings."""
    import os
    import socket

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
    proc = start_cli(["serve", "--repo-dir", str(repo), "--port", str(port)], env)
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


# --- hostile payloads: validated git values, replays under new ids, malformed shapes (issue 12) -----


@pytest.mark.parametrize(
    "field, value",
    [
        ("head", "--upload-pack=touch /tmp/stackplan-pwned; echo"),
        ("head", "--depth=1"),
        ("head", "a" * 39),
        ("head", "g" * 40),
        ("base", "HEAD~1"),
        ("base", 12345),
        ("ref", "-feature"),
        ("ref", "a..b"),
        ("ref", "x\u0000y"),
        ("ref", ["feature"]),
    ],
)
def test_invalid_shas_and_refs_are_400_and_nothing_is_recorded(receiver, settings, field, value):
    payload = pr_payload()
    if field == "ref":
        payload["pull_request"]["head"]["ref"] = value
    else:
        payload["pull_request"][field]["sha"] = value
    r = post(receiver.url, "pull_request", payload)
    assert r.status_code == 400
    assert "malformed pull_request payload" in r.json()["error"]
    assert store_of(settings).all() == []
    assert not (settings.dispatch.state_dir / "checkouts").exists()


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda p: p.update(number="abc"), "number"),
        (lambda p: p.update(number=True), "number"),
        (lambda p: p.update(number=10**30), "number"),
        (lambda p: p.update(action=["opened"]), "action"),
        (lambda p: p["repository"].update(full_name={"a": 1}), "repository.full_name"),
        (lambda p: p["repository"].update(full_name="../../etc"), "repository.full_name"),
        (lambda p: p.update(pull_request="x"), "pull_request"),
    ],
)
def test_wrong_types_are_400_with_a_reason(receiver, settings, mutate, reason):
    payload = pr_payload()
    mutate(payload)
    r = post(receiver.url, "pull_request", payload)
    assert r.status_code == 400, r.text
    assert reason in r.json()["error"]
    assert store_of(settings).all() == []


def test_deep_nesting_and_huge_numbers_are_400(receiver, settings):
    deep = b"[" * 30_000 + b"]" * 30_000  # under the 64 kB body limit of these tests
    r = post(receiver.url, "pull_request", None, raw=deep)
    assert r.status_code == 400 and "deeper" in r.json()["error"]
    nested = b'{"x": ' * 70 + b"1" + b"}" * 70
    assert post(receiver.url, "push", None, raw=nested).status_code == 400
    huge = b'{"number": ' + b"9" * 50_000 + b"}"
    assert post(receiver.url, "pull_request", None, raw=huge).status_code == 400
    assert store_of(settings).all() == []


@pytest.mark.parametrize("delivery", ["../../escape", "a/b", "x" * 200, "-rf", "\u00e9t\u00e9"])
def test_delivery_ids_that_could_name_a_path_are_400(receiver, settings, delivery):
    try:
        r = post(receiver.url, "pull_request", pr_payload(), delivery=delivery)
    except UnicodeEncodeError:  # httpx refuses non-ASCII headers itself: nothing reaches the server
        return
    assert r.status_code == 400
    assert store_of(settings).all() == []


def test_the_same_body_under_new_delivery_ids_is_a_duplicate_even_after_restart(settings):
    payload = pr_payload(action="closed")  # ignored: nothing is planned, the claim alone is tested
    with RunningReceiver(settings) as running:
        assert post(running.url, "pull_request", payload, delivery="orig").json()["status"] == "ignored"
        for i in range(4):
            r = post(running.url, "pull_request", payload, delivery=f"replay-{i}")
            assert (r.status_code, r.json()["status"]) == (200, "duplicate")
    with RunningReceiver(settings) as restarted:
        r = post(restarted.url, "pull_request", payload, delivery="replay-after-restart")
        assert r.json()["status"] == "duplicate"
    rows = {d.id: (d.status, d.detail) for d in store_of(settings).all()}
    assert rows.pop("orig")[0] == "ignored"
    assert set(rows.values()) == {("duplicate", "same body as delivery orig")} and len(rows) == 5


def test_claims_expire_after_the_retention_window(tmp_path):
    store = DeliveryStore(tmp_path / "d.sqlite", retention=0.2)
    assert store.claim("a", "push", digest="d1")
    assert not store.claim("b", "push", digest="d1")
    time.sleep(0.3)
    assert store.claim("c", "push", digest="d2")  # the claim prunes what is older than the window
    assert [d.id for d in store.all()] == ["c"]
    assert store.claim("d", "push", digest="d1")


def test_a_store_made_before_digests_is_upgraded(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE deliveries (id TEXT PRIMARY KEY, event TEXT NOT NULL, received REAL NOT NULL,"
            " status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', flow_run_id TEXT)"
        )
        db.execute("INSERT INTO deliveries VALUES ('old', 'push', ?, 'started', '', NULL)", (time.time(),))
    store = DeliveryStore(path)
    assert not store.claim("old", "push", digest="x")
    assert store.claim("new", "push", digest="x") and not store.claim("newer", "push", digest="x")


def test_fuzzed_signed_payloads_never_give_a_5xx(tmp_path):
    """Signed random and mutated payloads: every answer is a 2xx or a 4xx with a reason."""
    from hypothesis import HealthCheck, given
    from hypothesis import settings as hsettings
    from hypothesis import strategies as st

    s = WebhookSettings(
        secret=SECRET,
        dispatch=DispatchSettings(repo_dir=tmp_path / "none", state_dir=tmp_path / "state"),
        max_body=256 * 1024,
        comment=False,
    )
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.sampled_from(["a" * 40, "refs/heads/main", "main", "opened", "--upload-pack=x", "octo/recipes"]),
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=20,
    )
    paths = st.sampled_from(
        [
            ("action",),
            ("number",),
            ("pull_request",),
            ("pull_request", "head"),
            ("pull_request", "head", "sha"),
            ("pull_request", "head", "ref"),
            ("pull_request", "base", "sha"),
            ("repository",),
            ("repository", "full_name"),
            ("repository", "default_branch"),
            ("ref",),
            ("after",),
            ("before",),
            ("commits",),
        ]
    )

    def push_payload():
        return {
            "ref": "refs/heads/main",
            "before": "b" * 40,
            "after": "a" * 40,
            "repository": {"full_name": "octo/recipes", "default_branch": "main"},
            "commits": [{"added": ["x/meta.yaml"], "modified": [], "removed": []}],
        }

    def mutated(event, path, value):
        payload = pr_payload(action="closed") if event == "pull_request" else push_payload()
        target = payload
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[path[-1]] = value
        return payload

    events = st.sampled_from(["pull_request", "push", "ping", "issues"])
    bodies = st.one_of(
        st.builds(lambda e, v: (e, json.dumps(v).encode()), events, values),
        st.builds(lambda e, p, v: (e, json.dumps(mutated(e, p, v)).encode()), events, paths, values),
        st.builds(lambda e, b: (e, b), events, st.binary(max_size=200)),
        st.builds(lambda e, n: (e, b"[" * n + b"]" * n), events, st.integers(1, 5000)),
    )

    with RunningReceiver(s) as running:
        client = httpx.Client(timeout=30)

        @hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(bodies)
        def check(case):
            event, body = case
            headers = {
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(SECRET, body),
            }
            r = client.post(running.url + "/webhook", content=body, headers=headers)
            assert r.status_code < 500, r.text
            if 400 <= r.status_code < 500:
                assert r.json()["error"] and "Traceback" not in r.text

        try:
            check()
        finally:
            client.close()
    # whatever was accepted failed for want of a checkout; nothing was ever started
    assert all(d.status != "started" and d.flow_run_id is None for d in DeliveryStore(s.store_path).all())


def test_stalled_connections_are_closed_and_health_still_answers(tmp_path):
    """Connections that never finish their headers (or body) are closed after the read timeout;
    beyond the connection limit new ones are closed at once; /health answers throughout."""
    import socket

    s = WebhookSettings(
        secret=SECRET,
        dispatch=DispatchSettings(repo_dir=tmp_path, state_dir=tmp_path / "st"),
        read_timeout=1.0,
        max_connections=20,
    )
    with RunningReceiver(s) as running:
        host, port = running.url.removeprefix("http://").split(":")
        stalled = []
        for i in range(15):
            sock = socket.create_connection((host, int(port)))
            sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"")
            stalled.append(sock)
        body_stall = socket.create_connection((host, int(port)))
        body_stall.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        stalled.append(body_stall)
        start = time.monotonic()
        assert httpx.get(running.url + "/health", timeout=1).status_code == 200
        assert time.monotonic() - start < 1
        # over the limit: closed at once
        extra = [socket.create_connection((host, int(port))) for _ in range(10)]
        time.sleep(2.5)
        for sock in [*stalled, *extra]:
            sock.settimeout(2)
            try:
                data = sock.recv(1024)
            except ConnectionResetError:
                data = b""
            # closed (EOF) or answered with 408 for the stalled body; never still waiting
            assert data == b"" or b" 408 " in data.split(b"\r\n")[0], data[:80]
            sock.close()
        start = time.monotonic()
        assert httpx.get(running.url + "/health", timeout=1).status_code == 200
        assert time.monotonic() - start < 1


#: The attacker of the flood test, in a process of its own (as an attacker is): opens N connections
#: that stall (half send nothing, half half a request line and a header), then answers "count" with
#: how many of them the server has closed, until "quit".
_STALLER = r"""
import resource, select, socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(n + 64, hard), hard))
socks = []
for i in range(n):
    s = socket.create_connection((host, port))
    s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"")
    socks.append(s)
print("open", len(socks), flush=True)
poller, by_fd, closed = select.poll(), {}, set()
for s in socks:
    poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
    by_fd[s.fileno()] = s
for line in sys.stdin:
    if line.strip() != "count":
        break
    for fd, _ in poller.poll(0):
        try:
            data = by_fd[fd].recv(64)
        except OSError:
            data = b""
        if not data or b" 408 " in data:
            closed.add(fd)
            poller.unregister(fd)
    print(len(closed), flush=True)
"""


@pytest.mark.slow
def test_a_flood_of_stalled_connections_cannot_lock_out_health_checks(tmp_path):
    """2,000 stalled connections (the issue's attack), 20 times the connection limit, from another
    process: the server closes the excess at once (a newcomer evicts the connection waiting longest for
    its headers), holds at most its limit, answers /health within a second while it holds them, and
    the read timeout closes the rest."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    flood = min(2000, hard - 64)
    limit, read_timeout = 100, 5.0
    assert flood >= 10 * limit, f"RLIMIT_NOFILE {hard} too low for a flood"
    s = WebhookSettings(
        secret=SECRET,
        dispatch=DispatchSettings(repo_dir=tmp_path, state_dir=tmp_path / "st"),
        read_timeout=read_timeout,
        max_connections=limit,
    )
    with RunningReceiver(s) as running:
        host, port = running.url.removeprefix("http://").split(":")
        attacker = subprocess.Popen(
            [sys.executable, "-c", _STALLER, host, port, str(flood)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

        def closed_by_server() -> int:
            attacker.stdin.write("count\n")
            attacker.stdin.flush()
            return int(attacker.stdout.readline())

        def health_within_a_second() -> None:
            start = time.monotonic()
            assert httpx.get(running.url + "/health", timeout=1).status_code == 200
            assert time.monotonic() - start < 1

        try:
            assert attacker.stdout.readline().split() == ["open", str(flood)]
            opened = time.monotonic()
            # the excess is closed as it comes, not held for the read timeout
            while (closed := closed_by_server()) < flood - limit:
                assert time.monotonic() - opened < read_timeout, f"only {closed} of {flood} closed"
                time.sleep(0.1)
            # the server holds its limit's worth of stalled connections and still answers at once
            for _ in range(3):
                health_within_a_second()
            assert closed_by_server() < flood, "the held connections went before their read timeout"
            # ... until their read timeout closes them: nothing is held for ever
            while (closed := closed_by_server()) < flood:
                assert time.monotonic() - opened < read_timeout + 5, f"{flood - closed} still open"
                time.sleep(0.2)
            assert time.monotonic() - opened >= read_timeout - 1  # closed by the timeout, not before
            health_within_a_second()
        finally:
            attacker.stdin.close()
            attacker.wait(timeout=30)
