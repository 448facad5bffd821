"""Signatures (GitHub's documented example, hypothesis properties) and the PR preview comment."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flows.events.preview import preview_markdown
from flows.events.signature import sign, verify
from planner.errors import RecipeError
from planner.export.markdown import to_markdown
from planner.plan.model import Plan, PlanNode, Reason, SelectKind, SkipKind
from tests.plan_fixtures import plan_node


def test_githubs_documented_example():
    # docs.github.com "Validating webhook deliveries": secret and payload with the expected signature
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(b"It's a Secret to Everybody", b"Hello, World!") == expected
    assert verify(b"It's a Secret to Everybody", b"Hello, World!", expected)


@given(secret=st.binary(min_size=1, max_size=64), body=st.binary(max_size=512))
def test_own_signature_verifies(secret, body):
    assert verify(secret, body, sign(secret, body))


@given(secret=st.binary(min_size=1, max_size=64), body=st.binary(min_size=1, max_size=512), data=st.data())
def test_any_change_to_the_body_fails(secret, body, data):
    i = data.draw(st.integers(0, len(body) - 1))
    flipped = body[:i] + bytes([body[i] ^ data.draw(st.integers(1, 255))]) + body[i + 1 :]
    assert not verify(secret, flipped, sign(secret, body))


@given(secret=st.binary(min_size=1, max_size=64), other=st.binary(min_size=1, max_size=64), body=st.binary())
def test_another_secret_fails(secret, other, body):
    if secret != other:
        assert not verify(other, body, sign(secret, body))


@given(header=st.one_of(st.none(), st.text(max_size=80)))
def test_garbage_headers_fail(header):
    assert not verify(b"k", b"{}", header)


def _node(recipe: str, platform: str, kind: SelectKind, skipped: Reason | None = None) -> PlanNode:
    return plan_node(recipe, platform, kind, tag="[00000000]", skipped=skipped)


def test_preview_comment_is_the_planners_preview_with_commit_and_run_link():
    plan = Plan(
        root="/r",
        platforms=("linux-64", "osx-arm64"),
        nodes=(
            _node("recipes/a", "linux-64", SelectKind.CHANGED),
            _node("recipes/a", "osx-arm64", SelectKind.CHANGED),
            _node("recipes/b", "linux-64", SelectKind.DOWNSTREAM),
            _node("recipes/c", "linux-64", SelectKind.CHANGED, Reason(SkipKind.EXISTS)),
        ),
        edges=(),
        layers={"linux-64": (("a",), ("b",)), "osx-arm64": (("a",),)},
        errors=(RecipeError("recipes/d/meta.yaml", 3, "bad selector"),),
    )
    text = preview_markdown(plan, run_url="http://ui/runs/flow-run/1", head_sha="abcdef0123456789")
    body, _, tail = text.rstrip("\n").rpartition("\n\n")
    # the same preview `stackplan preview` prints, pointing at the run for the full plan
    full = "the [Prefect run](http://ui/runs/flow-run/1) (its `plan` parameter)"
    assert body.rstrip("\n") == to_markdown(plan, full_plan=full).rstrip("\n")
    assert tail == "for `abcdef012345` · [Prefect run](http://ui/runs/flow-run/1)"
    for shown in ("`a 1.0`", "`b 1.0`", "recipes/d/meta.yaml", "bad selector", "linux-64", "osx-arm64"):
        assert shown in body


def test_lanes_to_build_are_the_layers_with_a_job_that_builds():
    from flows.events.app import lanes_to_build

    a = _node("recipes/a", "linux-64", SelectKind.CHANGED)
    # a noarch job lives in its build platform's lane
    doc = _node("recipes/doc", "noarch", SelectKind.CHANGED)
    c = _node("recipes/c", "osx-arm64", SelectKind.CHANGED, Reason(SkipKind.EXISTS))
    d = _node("recipes/d", "win-64", SelectKind.DOWNSTREAM)
    plan = Plan(
        root="/r",
        platforms=("linux-64", "osx-arm64", "win-64"),
        nodes=(a, doc, c, d),
        edges=(),
        layers={"linux-64": ((a.id, doc.id),), "osx-arm64": ((c.id,),), "win-64": ((d.id,),)},
    )
    assert lanes_to_build(plan) == ["linux-64", "win-64"]
