import dataclasses
import json
import marshal
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.model import (
    EDGE_PHASES,
    PlatformRender,
    RecipeError,
    RecipeFormat,
    RenderedOutput,
    RenderedRecipe,
    Requirements,
    Variant,
)
from planner.plan.model import (
    SCHEMA_PATH,
    OutputRef,
    Plan,
    PlanEdge,
    PlanNode,
    PlanWarning,
    Reason,
    SelectKind,
    SkipKind,
)


def test_variant_is_sorted_hashable_and_agrees():
    a = Variant({"python": "3.12", "numpy": "2"})
    assert list(a) == ["numpy", "python"]
    assert hash(a) == hash(Variant({"numpy": "2", "python": "3.12"}))
    assert a.agrees_with({"python": "3.12", "zlib": "1"})
    assert not a.agrees_with({"python": "3.11"})
    assert a.restrict({"python"}) == {"python": "3.12"}
    assert pickle.loads(pickle.dumps(a)) == a


def test_recipe_error_is_located_and_round_trips():
    e = RecipeError("recipes/x/meta.yaml", 7, "bad selector")
    assert str(e) == "recipes/x/meta.yaml:7: bad selector"
    assert RecipeError.from_dict(e.to_dict()) == e
    assert pickle.loads(pickle.dumps(e)) == e
    assert str(RecipeError("a", None, "m")) == "a: m"


def test_platform_render_round_trips_and_drops_skipped_in_truth_line():
    out = RenderedOutput(
        "a",
        "1.0",
        2,
        requirements=Requirements(host=("python 3.12.* *_cpython",)),
        variant=Variant({"python": "3.12"}),
    )
    kept = RenderedRecipe("recipes/a", RecipeFormat.V0, "linux-64", Variant({"python": "3.12"}), (out,))
    dropped = RenderedRecipe(
        "recipes/a", RecipeFormat.V0, "linux-64", Variant({"python": "3.11"}), (out,), skip=True
    )
    pr = PlatformRender("recipes/a", "linux-64", (kept, dropped))
    assert PlatformRender.from_dict(pr.to_dict()) == pr
    assert len(pr.truth_line()["outputs"]) == 1
    bad = PlatformRender("recipes/b", "linux-64", error=RecipeError("recipes/b/meta.yaml", 3, "boom"))
    assert bad.truth_line()["error"].endswith("3: boom")


def _plan(order):
    nodes = tuple(
        PlanNode(
            f"{n}-1-0@linux-64[0]",
            f"recipes/{n}",
            "v1",
            "linux-64",
            "linux-64",
            {},
            (OutputRef(n, "1", 0),),
            Reason(SelectKind.ALL),
        )
        for n in order
    )
    edges = (PlanEdge(nodes[0].id, nodes[1].id, "host", "a"),)
    return Plan("/r", ("linux-64",), nodes, edges, {"linux-64": ((nodes[0].id,), (nodes[1].id,))})


def test_plan_json_is_canonical_and_hashed():
    a, b = _plan(["a", "b"]), _plan(["a", "b"])
    assert a.to_json() == b.to_json()
    restored = Plan.from_json(a.to_json())
    assert restored.hash == a.compute_hash() != ""
    assert restored.to_json() == a.to_json()


def test_plan_json_kept_from_hashing_never_outlives_a_change():
    from dataclasses import replace

    plan = _plan(["a", "b"]).with_hash()
    assert plan.to_json() == _plan(["a", "b"]).to_json()  # the kept text is the canonical text
    changed = replace(plan, warnings=(PlanWarning("config", "something"),))
    assert changed.to_json() != plan.to_json()
    assert Plan.from_json(changed.to_json()).hash == changed.compute_hash() != plan.hash


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=100, deadline=None)
@given(
    variant=st.dictionaries(st.sampled_from(["hash", "python", '"q"', "é"]) | _TEXT, _TEXT, max_size=4),
    warnings=st.lists(_TEXT, max_size=3),
    inputs=st.dictionaries(_TEXT, _TEXT | st.none(), max_size=3),
)
def test_plan_text_is_json_dumps_of_its_dict_whatever_the_strings(variant, warnings, inputs):
    import hashlib
    import json
    from dataclasses import replace

    node = PlanNode(
        "a-1-0@linux-64[0]", "recipes/a", "v0", "linux-64", "linux-64", variant, (), Reason(SelectKind.ALL)
    )
    structured = tuple(PlanWarning("unsatisfied", w, job=w, spec=w) for w in warnings)
    plan = Plan("/r", ("linux-64",), (node,), (), {}, warnings=structured, inputs=inputs).with_hash()
    data = plan.to_dict()
    assert (
        plan.to_json() == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    )
    empty = json.dumps({**data, "hash": ""}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert plan.hash == hashlib.sha256(empty.encode()).hexdigest() == replace(plan, hash="x").compute_hash()


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
_names = st.lists(_text, max_size=3).map(tuple)
_outputs = st.builds(
    RenderedOutput,
    name=_text,
    version=_text,
    build_number=st.integers(0, 10**6),
    build_string=st.none() | _text,
    noarch=st.sampled_from([None, "python", "generic"]),
    skip=st.booleans(),
    requirements=st.builds(Requirements, build=_names, host=_names, run=_names, run_constrained=_names),
    test_requires=_names,
    variant=st.dictionaries(_text, _text, max_size=3).map(Variant),
    undefined_jinja=_names,
    test_on=st.none() | _text,
)


@settings(max_examples=150, deadline=None)
@given(out=_outputs)
def test_rendered_output_round_trips_through_json_and_the_cache_codec(out):
    """Every form an output is written in comes back to the same output: the dict (truth lines, JSON) and
    the render cache's tuples, both derived from the dataclass's fields (``OUTPUT_FIELDS``)."""
    from planner.render.codec import Decoder, encode

    assert RenderedOutput.from_dict(json.loads(json.dumps(out.to_dict()))) == out
    assert list(out.to_dict()) == [f.name for f in dataclasses.fields(RenderedOutput)]
    variant = RenderedRecipe("recipes/a", RecipeFormat.V0, "linux-64", Variant(), (out,))
    render = PlatformRender("recipes/a", "linux-64", (variant,))
    payload = marshal.loads(marshal.dumps(encode([render])))
    found, missing = Decoder().renders(payload, ["linux-64"])
    assert not missing and found["linux-64"] == render


def test_plan_schema_lists_the_edge_phases_of_the_model():
    """The schema's edge ``phase`` enum and :data:`planner.model.EDGE_PHASES` name the same phases."""
    from pathlib import Path

    schema = json.loads((Path(__file__).parent.parent / "schemas" / "plan.schema.json").read_text())
    edge = schema["$defs"]["edge"]["properties"]["phase"]
    assert tuple(edge["enum"]) == EDGE_PHASES


def test_reason_kinds_are_enums_written_as_the_schemas_strings():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["$defs"]["node"]["properties"]
    assert schema["selected"]["properties"]["kind"]["enum"] == [k.value for k in SelectKind]
    assert schema["skipped"]["oneOf"][1]["properties"]["kind"]["enum"] == [k.value for k in SkipKind]
    reason = Reason(SkipKind.RENDER_SKIP, "skipped on win-64 by the recipe")
    written = '{"kind": "render-skip", "detail": "skipped on win-64 by the recipe"}'
    assert json.dumps(reason.to_dict()) == written
    back = Reason.from_dict(json.loads(json.dumps(reason.to_dict())))
    assert back == reason and back.kind is SkipKind.RENDER_SKIP


def test_a_reason_kind_outside_the_vocabulary_is_not_a_plan():
    with pytest.raises(ValueError, match="unknown reason kind 'bogus'"):
        Reason.from_dict({"kind": "bogus", "detail": ""})
