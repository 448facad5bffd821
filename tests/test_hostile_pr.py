"""Hostile pull requests against the real receiver on loopback, as an attacker would send them.

The receiver runs as `stackplan serve` runs it (uvicorn with the server's protocol limits, the real app,
real git, real Prefect through the test harness); GitHub is the recording stand-in of
``tests/loopback.py``. Every test asserts what must NOT happen: no configured secret in any request
GitHub received, any file written, any database row or any log line; no server path in what was
posted nor in any flow run's parameters (the build run is executed as a worker would, subflows and
all); nothing created by git; no second flow run; a 4xx for bad input; /health answering within a
second throughout.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from flows.events.app import WebhookSettings
from flows.events.deliveries import DeliveryStore
from flows.events.dispatch import DispatchSettings
from planner.render.budget import SERVE_BUDGET
from tests.gitrepo import commit, git, init
from tests.loopback import github_on_loopback
from tests.webhook_server import (
    SECRET,
    RunningReceiver,
    deploy_build_flow,
    post,
    pr_payload,
    read_flow_run,
    wait_settled,
)

pytestmark = pytest.mark.prefect

TOKEN = "ghp_HOSTILE_token_0123456789abcdef"
SLACK = "https://hooks.slack.example/services/T0000/B0000/SLACKsecret123456"
SECRETS = (TOKEN, SLACK, SECRET.decode())

V1_LEAK = """\
package:
  name: leak-one
  version: '1.0.${{ env.get("GITHUB_TOKEN", default="none") }}'
requirements:
  host:
    - leak-${{ env.get("STACKPLAN_WEBHOOK_SECRET", default="none") }}
    - slack-${{ env.get("SLACK_WEBHOOK_URL", default="none") | replace("/", "-") }}
"""
V0_LEAK = """\
package:
  name: leak-zero
  version: '1.0.{{ environ.get("GITHUB_TOKEN", "none") }}'
requirements:
  host:
    - leak-{{ os.environ.get("STACKPLAN_WEBHOOK_SECRET", "none") }}
    - where-{{ RECIPE_DIR }}
"""
ENDLESS = (
    '{% set s = "x" * 900000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}\n'
    "package:\n  name: endless\n  version: '1.0'\n"
)
FINE = "package:\n  name: fine\n  version: '1.0'\nbuild:\n  number: 1\n"


def _huge() -> str:
    """A valid recipe of 2 MB (the serve budget allows 1 MiB per file)."""
    return "package:\n  name: huge\n  version: '1.0'\n" + "# padding\n" * 200_000


@pytest.fixture
def hostile_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", SLACK)
    monkeypatch.setenv("STACKPLAN_WEBHOOK_SECRET", SECRET.decode())
    monkeypatch.setenv("STACKPLAN_CACHE_DIR", str(tmp_path / "render-cache"))
    monkeypatch.setenv("STACKPLAN_HOME", str(tmp_path / "state"))


@pytest.fixture
def hostile_repo(tmp_path):
    repo = init(tmp_path / "recipes-repo")
    base = commit(repo, {"recipes/fine/meta.yaml": FINE.replace("number: 1", "number: 0")}, "base")
    git(repo, "checkout", "-q", "-b", "hostile")
    head = commit(
        repo,
        {
            "recipes/fine/meta.yaml": FINE,
            "recipes/leak-one/recipe.yaml": V1_LEAK,
            "recipes/leak-zero/meta.yaml": V0_LEAK,
            "recipes/endless/meta.yaml": ENDLESS,
            "recipes/huge/meta.yaml": _huge(),
        },
        "a hostile pull request",
    )
    git(repo, "checkout", "-q", "main")
    return repo, base, head


def _settings(tmp_path: Path, repo: Path, **dispatch) -> WebhookSettings:
    return WebhookSettings(
        secret=SECRET,
        dispatch=DispatchSettings(
            repo_dir=repo,
            state_dir=tmp_path / "state",
            platforms=("linux-64",),
            budget=SERVE_BUDGET.with_overrides(seconds=3),
            **dispatch,
        ),
    )


def _health_ok(url: str) -> None:
    start = time.monotonic()
    r = httpx.get(url + "/health", timeout=1)
    assert r.status_code == 200 and time.monotonic() - start < 1


def _files_under(root: Path):
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path


def _prefect_db_files() -> list[Path]:
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    url = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    if not url.startswith("sqlite"):
        return []
    db = Path(url.split("///", 1)[1])
    return [p for p in db.parent.glob(db.name + "*") if p.is_file()]


async def _runs_of_pr(pr: int) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        return await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[f"pr:{pr}"])),
            sort=FlowRunSort.ID_DESC,
            limit=50,
        )


def test_a_hostile_pr_leaks_nothing_hangs_nothing_and_runs_once(
    prefect_harness, hostile_env, hostile_repo, tmp_path, caplog
):
    repo, base, head = hostile_repo
    deploy_build_flow()
    caplog.set_level(logging.INFO)
    with github_on_loopback() as github:
        gh_server = github.server
        import os

        os.environ["GITHUB_API_URL"] = gh_server.url
        try:
            settings = _settings(tmp_path, repo)
            with RunningReceiver(settings) as receiver:
                payload = pr_payload(number=666, head=head, base=base)
                body = json.dumps(payload).encode()
                r = post(receiver.url, "pull_request", None, raw=body, delivery="hostile-1")
                assert r.status_code == 202, r.text
                store = DeliveryStore(settings.store_path)
                # /health answers within a second all the while the delivery is worked on
                healthy = functools.partial(_health_ok, receiver.url)
                row = wait_settled(store, "hostile-1", 180, poll=0.2, meanwhile=healthy)
                assert row.status == "started", row.detail
                # the captured body again, under new delivery ids: nothing starts
                for i in range(3):
                    again = post(receiver.url, "pull_request", None, raw=body, delivery=f"replay-{i}")
                    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
                _health_ok(receiver.url)
            # a worker runs the build (sharing the server's $STACKPLAN_HOME, in a working directory of
            # its own): it finds the recipes through the stored ``<state>/checkouts/<sha>`` reference
            state = _work_off(row.flow_run_id, tmp_path / "worker")
            assert state.is_completed(), state.message
        finally:
            os.environ.pop("GITHUB_API_URL", None)

    # exactly one build run for the PR (the others are its platform subflow)
    runs = asyncio.run(_runs_of_pr(666))
    assert [str(run.id) for run in runs if run.parent_task_run_id is None] == [row.flow_run_id]
    # the comment was posted and tells what happened to each hostile recipe, located
    [comment] = github.comments[666]
    text = comment["body"]
    assert "recipes/endless" in text and "render budget exceeded: 3 s" in text
    assert "recipes/huge" in text and "render budget exceeded: file is" in text
    # no secret anywhere GitHub was sent it (the token is only in the Authorization header, by design)
    for req in gh_server.requests:
        sent = json.dumps(
            [req.path, req.query, req.body, {k: v for k, v in req.headers.items() if k != "Authorization"}]
        )
        for secret in SECRETS:
            assert secret not in sent, (secret, req.path)
        # nor the server's paths: checkouts, state dir, the clone, the working dir
        assert str(tmp_path) not in sent and str(Path.cwd()) not in sent, req.path
    # no secret in any file the server wrote (state dir, delivery store, render cache, checkouts)
    for path in [*_files_under(tmp_path), *_prefect_db_files()]:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, (secret, path)
    # nor in any flow run's parameters as Prefect stores them (the build run and the subflows it
    # started): no secret, no path of the server (its clone, state dir, checkouts, working directory)
    [build] = [run for run in runs if str(run.id) == row.flow_run_id]
    assert len(runs) > 1  # the platform subflow ran too
    server_paths = (str(repo), str(tmp_path / "state"), str(Path.cwd()))
    for run in runs:
        params = json.dumps(run.parameters)
        for leak in (*SECRETS, *server_paths):
            assert leak not in params, (leak, run.name)
    stored = json.dumps(build.parameters)
    assert str(tmp_path) not in stored  # the build run's: no absolute path of this machine at all
    assert build.parameters["plan"]["root"] == f"<state>/checkouts/{head}"
    # the render environment was empty: the leaking recipes rendered with their defaults
    assert "1.0.none" in stored and "leak-none" in stored
    # no secret in any log record of the run
    for secret in SECRETS:
        assert secret not in caplog.text


def _work_off(flow_run_id: str, workdir: Path):
    """Run the flow run ``serve`` created as a worker would: the deployment's flow, with the stored
    parameters, in the worker's own working directory."""
    import os

    from prefect.flow_engine import run_flow

    from flows.run.build_flow import build_flow

    flow_run = read_flow_run(flow_run_id)
    workdir.mkdir(parents=True, exist_ok=True)
    here = Path.cwd()
    os.chdir(workdir)
    try:
        return run_flow(build_flow, flow_run=flow_run, parameters=flow_run.parameters, return_type="state")
    finally:
        os.chdir(here)


@pytest.mark.parametrize(
    "field, value",
    [
        ("head", "--upload-pack=touch {pwned}; echo"),
        ("head", "--depth=1"),
        ("base", "--upload-pack=touch {pwned}"),
        ("ref", "--upload-pack=touch {pwned}"),
    ],
)
def test_sha_and_ref_injection_is_400_and_git_runs_nothing(hostile_env, hostile_repo, tmp_path, field, value):
    repo, base, head = hostile_repo
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    pwned = tmp_path / "PWNED"
    value = value.format(pwned=pwned)
    payload = pr_payload(number=7, head=head, base=base)
    if field == "ref":
        payload["pull_request"]["head"]["ref"] = value
    else:
        payload["pull_request"][field]["sha"] = value
    settings = _settings(tmp_path, repo, fetch_remote="origin")
    with RunningReceiver(settings) as receiver:
        r = post(receiver.url, "pull_request", payload, delivery="inject-1")
        assert r.status_code == 400 and "not" in r.json()["error"]
        _health_ok(receiver.url)
        time.sleep(0.5)  # anything started in the background would have run by now
    assert not pwned.exists()
    assert not (repo / ".git" / "shallow").exists()
    assert not (tmp_path / "state" / "checkouts").exists()
    assert DeliveryStore(settings.store_path).all() == []


def test_malformed_and_deep_payloads_are_4xx_and_the_server_stays_up(hostile_env, hostile_repo, tmp_path):
    repo, base, head = hostile_repo
    settings = _settings(tmp_path, repo)
    cases = [
        b"[" * 30_000 + b"]" * 30_000,
        b'{"number": ' + b"9" * 20_000 + b"}",
        json.dumps({**pr_payload(head=head, base=base), "number": "abc"}).encode(),
        json.dumps({**pr_payload(head=head, base=base), "pull_request": [1, 2]}).encode(),
        b"\xff\xfe\x00garbage",
    ]
    with RunningReceiver(settings) as receiver:
        for i, body in enumerate(cases):
            r = post(receiver.url, "pull_request", None, raw=body, delivery=f"bad-{i}")
            assert 400 <= r.status_code < 500 and r.json()["error"], (i, r.text)
            assert "Traceback" not in r.text
            _health_ok(receiver.url)
    assert DeliveryStore(settings.store_path).all() == []
