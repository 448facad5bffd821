"""The combined template (planner.render.v0.template) renders exactly what the selected text renders.

A meta.yaml is compiled once with its selector lines as Jinja conditions, instead of once per
distinct selection. The property: for every selection (every assignment of true/false to its
selectors), rendering the combined template gives the same text and the same recorded undefined
names as compiling and rendering the selected source, or the recipe is refused (None) and the
renderer keeps the per-selection path. Recipes are drawn from line fragments that include the hard
cases: multi-line Jinja blocks, whitespace control, lone ``{% if %}`` lines, comments, raw blocks.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from planner.model import RecipeError
from planner.render.selectors import assemble_selected, distinct_selectors, select_lines, selector_values
from planner.render.v0.jinja_env import RenderRecord, compile_template, render_template
from planner.render.v0.template import recipe_template

SELECTORS = ("linux", "osx", "win", "unix", "py>=312", "not win", "aarch64")

#: One-line fragments, each a whole line of a meta.yaml (Jinja is balanced on the line).
LINES = (
    "package:",
    "  name: foo",
    "  version: {{ version }}",
    "{% set version = '1.2' %}",
    "{% set name = 'bar' %}",
    "{% set a, b = 1, 2 %}",
    "  - {{ name }}",
    "  - {{ missing_name }}",
    "  - {{ name|upper }}-{{ a }}",
    "  - {{ compiler('c') }}",
    "# a comment {{ not_rendered",
    "{# a jinja comment #}",
    "  - x  # [osx] trailing",
    "",
    "requirements:",
    "  - {{ 'a' ~ version }}",
    "  - {{ x }}",
    "{% set n = namespace(v=1) %}",
    "{% set n.v = 2 %}",
    "  v: {{ n.v }}",
    "  - {{ 1 // 0 }}",
    "  - {{ missing_name.attr() }}",
)
#: Fragments that reach across lines or act across line boundaries.
HARD = (
    "{% set deps = [",
    "  'a',",
    "] %}",
    "{#",
    "#}",
    "{%- set y = 1 %}",
    "  - {{ y -}}",
    "{% raw %}{{ literal }}{% endraw %}",
    "{% raw %}",
    "{% endraw %}",
    "{% if version %}",
    "{% endif %}",
    "{{ version",
    "}}",
)


BLOCKS = (
    ("{% if version %}", "{% endif %}"),
    ("{% for x in [1, 2] %}", "{% endfor %}"),
    ("{% if not name %}", "{% else %}\n  - else-branch\n{% endif %}"),
    ("{% set block %}", "{% endset %}\n  - {{ block }}"),
)


@st.composite
def recipes(draw: st.DrawFn) -> str:
    n = draw(st.integers(min_value=1, max_value=14))
    out = []
    for _ in range(n):
        hard = draw(st.integers(0, 5)) == 0
        line = draw(st.sampled_from(HARD if hard else LINES))
        if draw(st.booleans()):
            line = f"{line}  # [{draw(st.sampled_from(SELECTORS))}]"
        out.append(line)
    if draw(st.booleans()):  # a block around some lines: its body holds selector lines
        opener, closer = draw(st.sampled_from(BLOCKS))
        i = draw(st.integers(0, len(out)))
        j = draw(st.integers(i, len(out)))
        out[i:j] = [opener, *out[i:j], closer]
    return "\n".join(out) + "\n"


def _render(template, ctx) -> tuple[str, list[str]] | str:
    record = RenderRecord()
    try:
        return render_template(template, ctx, record), record.undefined
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def _context(values: dict[str, bool]) -> dict:
    return {"compiler": lambda lang: f"{lang}_compiler", "linux": values.get("linux", False)}


def _check_every_selection(raw: str) -> bool:
    """Combined == per-selection for every selection of ``raw``; False when no combined template."""
    combined = recipe_template(raw)
    if combined is None:
        return False
    selectors = [sel for _, sel in distinct_selectors(raw)]
    for flags in itertools.product((False, True), repeat=len(selectors)):
        values = dict(zip(selectors, flags, strict=True))
        ctx = _context(values)
        selected = assemble_selected(raw, values)
        try:
            compiled = compile_template(selected)
        except Exception:
            pytest.fail(f"a combined template exists but a selection does not compile:\n{selected}")
        expected = _render(compiled, ctx)
        got = _render(combined.template, combined.context(values, ctx))
        if isinstance(expected, str):  # an error must stay an error (the renderer then re-renders
            assert isinstance(got, str), f"selection {values}\n--- recipe:\n{raw}"  # the selected text)
            continue
        assert got == expected, f"selection {values}\n--- recipe:\n{raw}"
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipes())
def test_combined_template_renders_as_every_selection(raw: str) -> None:
    event("combined" if _check_every_selection(raw) else "refused")


@pytest.mark.parametrize(
    "raw",
    [
        "{%- set x = 1 %}\na: 1  # [osx]\n",  # whitespace control
        "{% set deps = [\n  'a',  # [osx]\n] %}\n",  # a selector inside a multi-line block
        "{% if a %}  # [osx]\nb: 1\n{% endif %}  # [osx]\n",  # lone block tags on selector lines
        "{% raw %}\na: 1  # [osx]\n{% endraw %}\n",
        "{#\na: 1  # [osx]\n#}\n",  # inside a multi-line comment
        "a: {{ _stackplan_sel_0 }}  # [osx]\n",  # the flag prefix is taken
        "a: 1\nb: 2\n",  # no selectors: one selection, compiled once anyway
        "a: 1  # [osx]\nb: 2  # [win]\n",  # every line selected: none kept renders "\n"
    ],
)
def test_refused_where_it_would_not_be_equivalent(raw: str) -> None:
    assert recipe_template(raw) is None


def test_accepted_recipe_renders_each_platform_as_its_selection() -> None:
    raw = (
        "{% set version = '2.0' %}\n"
        "{% set extra = 'mac' %}  # [osx]\n"
        "package:\n  name: foo\n  version: {{ version }}\n"
        "requirements:\n"
        "  build:\n"
        "    - {{ compiler('c') }}  # [not win]\n"
        "    - {{ extra }}\n"
        "    - {{ undefined_thing }}  # [win]\n"
    )
    assert _check_every_selection(raw)
    combined = recipe_template(raw)
    values = {"osx": True, "not win": True, "win": False}
    record = RenderRecord()
    text = render_template(combined.template, combined.context(values, _context(values)), record)
    assert "    - c_compiler\n    - mac\n" in text and "undefined_thing" not in text
    assert record.undefined == []
    values = {"osx": False, "not win": False, "win": True}
    record = RenderRecord()
    text = render_template(combined.template, combined.context(values, _context(values)), record)
    assert "    - \n    - \n" in text  # extra and undefined_thing are undefined on win
    assert record.undefined == ["extra", "undefined_thing"]


def test_select_lines_errors_are_unchanged() -> None:
    """selector_values raises at the first line of a broken selector, as select_lines always did."""
    raw = "a: 1  # [osx]\nb: 2  # [linux and (]\nc: 3  # [linux and (]\n"
    with pytest.raises(RecipeError) as exc:
        selector_values(raw, {"osx": True, "linux": True}, "meta.yaml")
    assert exc.value.line == 2 and "invalid selector [linux and (]" in exc.value.message
    with pytest.raises(RecipeError) as again:
        select_lines(raw, {"osx": True, "linux": True}, "meta.yaml")
    assert again.value == exc.value
