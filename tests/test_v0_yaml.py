"""planner.render.v0.yaml: the one-call-per-node construction gives ruamel's own result, or ruamel's error.

``load_recipe_yaml`` builds common node trees itself and hands anything unusual to ruamel's safe
constructor. The reference here is ruamel itself: the same loader class, ``get_single_data()``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml.error import YAMLError

from planner.model import RecipeError
from planner.render.v0.yaml import StringNumbersLoader, load_recipe_yaml


def _ruamel(text: str) -> tuple[str, str]:
    """ruamel's result as its repr (recursive values compare by repr), or the kind of error."""
    loader = StringNumbersLoader(text)
    try:
        return ("ok", repr(loader.get_single_data()))
    except YAMLError:
        return ("error", "YAML")  # load_recipe_yaml turns these into a RecipeError
    except Exception as exc:
        return ("error", type(exc).__name__)
    finally:
        loader.dispose()


def _ours(text: str) -> tuple[str, str]:
    try:
        return ("ok", repr(load_recipe_yaml(text, "meta.yaml")))
    except RecipeError:
        return ("error", "YAML")
    except Exception as exc:
        return ("error", type(exc).__name__)


_SCALAR_TEXTS = ["1", "1.10", "0x1F", "yes", "No", "true", "False", "~", "null", "", "'quoted'", '"1.0"',
                 "a b", "2020-01-01", "!!str 3", "!!int 3", "!!bool maybe", ">-\n    folded", "=", "<<",
                 "1e3", ".inf", "-"]  # fmt: skip
SCALARS = st.sampled_from(_SCALAR_TEXTS)
KEYS = st.sampled_from(["name", "version", "1", "true", "~", "yes", "<<", "=", "[a, b]", "? x", "number"])


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> str:
    """YAML block text (indented by the caller) with anchors, aliases, merges and flow collections."""
    kind = draw(st.sampled_from(["map", "seq", "flow"] if depth < 3 else ["flow"]))
    pad = "  " * depth
    if kind == "flow":
        items = draw(st.lists(SCALARS.filter(lambda s: "\n" not in s and not s.startswith("!")), max_size=3))
        return "[" + ", ".join(items) + "]"
    lines = []
    for i in range(draw(st.integers(1, 4))):
        anchor = f"&a{depth}{i} " if draw(st.integers(0, 5)) == 0 else ""
        if draw(st.integers(0, 3)) == 0:
            value = "\n" + pad + "  " + draw(documents(depth + 1))
        elif draw(st.integers(0, 6)) == 0:
            value = f"*a{draw(st.integers(0, 2))}{draw(st.integers(0, 3))}"
            anchor = ""
        else:
            value = draw(SCALARS)
        if kind == "map":
            lines.append(f"{pad}{draw(KEYS)}: {anchor}{value}")
        else:
            lines.append(f"{pad}- {anchor}{value}")
    return "\n".join(lines).lstrip()


@settings(max_examples=400, deadline=None)
@given(documents())
def test_same_as_ruamel_constructor(text: str) -> None:
    assert _ours(text) == _ruamel(text), text


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [x, ~, true]\nc: &A {d: 1.10}\ne: *A\n",
        "base: &B {x: 1}\nderived:\n  <<: *B\n  y: 2\n",  # merge key: ruamel's constructor
        "date: 2020-01-01\n",  # timestamp: ruamel's constructor
        "a: &L [1, *L]\n",  # a recursive alias
        "a: 1\na: 2\n",  # a repeated key: the last wins
        "? [a, b]\n: 1\n",  # a sequence as a key
        "",  # an empty document
        "[" * 200 + "]" * 200,  # nesting deeper than the one-call path handles comfortably
    ],
)
def test_cases(text: str) -> None:
    assert _ours(text) == _ruamel(text)


def test_alias_is_one_object_and_errors_are_located() -> None:
    data = load_recipe_yaml("a: &A [1]\nb: *A\n", "meta.yaml")
    assert data["a"] is data["b"] and data == {"a": ["1"], "b": ["1"]}
    with pytest.raises(RecipeError) as exc:
        load_recipe_yaml("a: 1\nb: [\n", "meta.yaml")
    assert exc.value.line is not None and exc.value.path == "meta.yaml"
