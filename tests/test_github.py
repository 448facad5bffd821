"""The GitHub client against a recording GitHub stand-in on loopback."""

from __future__ import annotations

import logging

import pytest

from flows.events.github import PREVIEW_MARKER, GitHub, GitHubError, status_context
from tests.loopback import github_on_loopback

TOKEN = "ghp_TopSecretToken123"


@pytest.fixture
def fake():
    with github_on_loopback() as state:
        yield state


def _client(fake, token=TOKEN) -> GitHub:
    return GitHub.from_env("octo/recipes", {"GITHUB_TOKEN": token, "GITHUB_API_URL": fake.server.url + "/"})


def test_status_is_posted_with_context_and_link(fake):
    gh = _client(fake)
    gh.set_status(
        "abc123",
        "pending",
        context=status_context("linux-64"),
        description="building",
        target_url="http://prefect/runs/flow-run/1",
    )
    [req] = fake.server.requests
    assert (req.method, req.path) == ("POST", "/repos/octo/recipes/statuses/abc123")
    assert req.body == {
        "state": "pending",
        "context": "stackplan/linux-64",
        "description": "building",
        "target_url": "http://prefect/runs/flow-run/1",
    }
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"


def test_bad_status_state_is_refused_before_any_request(fake):
    with pytest.raises(ValueError):
        _client(fake).set_status("abc", "green", context="stackplan/linux-64")
    assert fake.server.requests == []


def test_preview_comment_is_posted_once_then_edited_in_place(fake):
    gh = _client(fake)
    first = gh.upsert_preview_comment(7, "## plan\n3 jobs")
    second = gh.upsert_preview_comment(7, "## plan\n5 jobs")
    third = gh.upsert_preview_comment(7, "## plan\n5 jobs")  # unchanged: no write at all
    assert [c["body"] for c in fake.comments[7]] == [f"{PREVIEW_MARKER}\n## plan\n5 jobs"]
    assert first["id"] == second["id"] == third["id"]
    assert [(r.method, r.path) for r in fake.server.requests] == [
        ("GET", "/repos/octo/recipes/issues/7/comments"),
        ("POST", "/repos/octo/recipes/issues/7/comments"),
        ("GET", "/repos/octo/recipes/issues/7/comments"),
        ("PATCH", f"/repos/octo/recipes/issues/comments/{first['id']}"),
        ("GET", "/repos/octo/recipes/issues/7/comments"),
    ]


def test_other_peoples_comments_are_left_alone(fake):
    fake.comments[3] = [{"id": 1, "body": "LGTM"}, {"id": 2, "body": "stackplan-preview mentioned in text"}]
    _client(fake).upsert_preview_comment(3, "plan")
    assert [c["body"] for c in fake.comments[3]] == [
        "LGTM",
        "stackplan-preview mentioned in text",
        f"{PREVIEW_MARKER}\nplan",
    ]


def test_comment_pages_are_followed(fake):
    # 150 comments over two pages of 100; ours is on the second page
    fake.comments[5] = [{"id": i, "body": f"c{i}"} for i in range(149)] + [
        {"id": 999, "body": PREVIEW_MARKER + "\nold"}
    ]
    gh = _client(fake)
    assert gh.find_preview_comment(5)["id"] == 999
    assert [r.query for r in fake.server.requests] == ["per_page=100", "per_page=100&page=2"]
    gh.upsert_preview_comment(5, "new")
    assert fake.comments[5][-1] == {"id": 999, "body": PREVIEW_MARKER + "\nnew"}
    assert len(fake.comments[5]) == 150


def test_no_token_posts_nothing(fake):
    gh = _client(fake, token="")
    assert not gh.enabled
    assert gh.set_status("abc", "success", context="stackplan/osx-64") is None
    assert gh.upsert_preview_comment(1, "x") is None
    assert fake.server.requests == []


def test_token_never_appears_in_repr_errors_or_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    gh = _client(fake)
    assert TOKEN not in repr(gh) and "<redacted>" in repr(gh)
    fake.fail_with = 401
    with pytest.raises(GitHubError) as info:
        gh.set_status("abc", "success", context="stackplan/win-64")
    assert info.value.status == 401
    assert "HTTP 401 Bad credentials" in str(info.value)
    assert TOKEN not in str(info.value)
    assert TOKEN not in caplog.text


def test_unreachable_api_is_a_github_error_without_token():
    gh = GitHub("octo/recipes", token=TOKEN, api_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(GitHubError) as info:
        gh.set_status("abc", "success", context="stackplan/win-64")
    assert TOKEN not in str(info.value)
