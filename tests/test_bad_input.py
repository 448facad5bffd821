"""Bad input never escapes as an exception, never hangs, and never stops the other recipes.

Hypothesis generates broken YAML, Jinja, selectors, binary junk and absurd nesting, in meta.yaml (v0)
and recipe.yaml (v1). For every input ``render_recipe`` must return one PlatformRender per platform,
each either rendered or carrying a RecipeError located at the recipe file (with a line inside the
file when it gives one) -- and not an "internal error" (that would be a bug in our code that the
door in ``planner.render.recipe`` merely contained).
"""

from __future__ import annotations

import json
import signal
import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.model import RecipeFormat, RecipeSource, RenderOptions
from planner.render.recipe import render_all, render_recipe
from stackplan.cli import app

PLATFORMS = ("linux-64", "osx-arm64", "win-64")
PER_EXAMPLE_SECONDS = 20

V0 = textwrap.dedent(
    """\
    {% set version = "1.2.3" %}
    package:
      name: good
      version: {{ version }}
    build:
      number: 0
      skip: true  # [win]
    requirements:
      host:
        - python
        - zlib  # [linux]
      run:
        - python
    test:
      commands:
        - good --help
    """
)
V1 = textwrap.dedent(
    """\
    context:
      version: "1.2.3"
    package:
      name: good
      version: ${{ version }}
    build:
      number: 0
      skip:
        - win
    requirements:
      host:
        - python
        - if: linux
          then: zlib
      run:
        - python
    """
)
FILE = {RecipeFormat.V0: "meta.yaml", RecipeFormat.V1: "recipe.yaml"}
TEMPLATE = {RecipeFormat.V0: V0, RecipeFormat.V1: V1}

SETTINGS = settings(
    max_examples=40,
    deadline=None,  # a hang is caught by the alarm below, slowness by the benchmarks
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@contextmanager
def time_limit(seconds: int):
    def on_alarm(signum, frame):
        raise TimeoutError(f"render took more than {seconds}s: a hang")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def render_bytes(tmp_path: Path, fmt: RecipeFormat, data: bytes, name: str = "r"):
    d = tmp_path / name
    d.mkdir(parents=True, exist_ok=True)
    f = d / FILE[fmt]
    f.write_bytes(data)
    src = RecipeSource(d, name, fmt, f)
    with time_limit(PER_EXAMPLE_SECONDS):
        renders = render_recipe(src, PLATFORMS, RenderOptions())
    check_renders(renders, f, data)
    return renders


def check_renders(renders, recipe_file: Path, data: bytes) -> None:
    assert [r.platform for r in renders] == list(PLATFORMS)
    # An "unexpected end of file" may sit on the line after the last. Lines are "\n" lines; the v0
    # side still counts str.splitlines() lines (\x0b, \x0c, \x85... break lines too): reported.
    text = data.decode("utf-8", "replace")
    n_lines = max(data.count(b"\n"), len(text.splitlines())) + 2
    for r in renders:
        if r.error is None:
            continue
        err = r.error
        assert err.path == str(recipe_file)
        assert err.line is None or 1 <= err.line <= n_lines, (err, n_lines)
        assert not err.message.startswith("internal error"), err
        assert err.message.strip()
        json.dumps(r.truth_line())  # every render, even a failed one, serialises


def splice(template: str, line_no: int, junk: str, replace: bool) -> str:
    lines = template.splitlines()
    i = line_no % (len(lines) + 1)
    if replace and i < len(lines):
        lines[i] = junk
    else:
        lines.insert(i, junk)
    return "\n".join(lines) + "\n"


formats = st.sampled_from([RecipeFormat.V0, RecipeFormat.V1])
yaml_junk = st.text(alphabet=list(":-[]{}'\"#|>&*!%@?,` \t\nabcxyz019"), min_size=1, max_size=40)
jinja_junk = st.text(alphabet=list("{}%#()[]'\".,|~+-*/ =<>!abcxyz019_"), min_size=1, max_size=30)
selector_junk = st.text(alphabet=list("()[]andornot<>=!'\" .,linuxosxwinpy3_0123456789"), max_size=30)


@SETTINGS
@given(fmt=formats, where=st.integers(0, 40), junk=yaml_junk, replace=st.booleans())
def test_broken_yaml(tmp_path_factory, fmt, where, junk, replace):
    tmp = tmp_path_factory.mktemp("yaml")
    text = splice(TEMPLATE[fmt], where, junk, replace)
    render_bytes(tmp, fmt, text.encode())


@SETTINGS
@given(fmt=formats, where=st.integers(0, 40), junk=jinja_junk, kind=st.integers(0, 3))
def test_broken_jinja(tmp_path_factory, fmt, where, junk, kind):
    tmp = tmp_path_factory.mktemp("jinja")
    if fmt is RecipeFormat.V0:
        expr = ["{{ %s }}", "{%% %s %%}", "{{ %s", "{%% set x = %s %%}"][kind] % junk
        line = f"    - dep {expr}" if kind != 3 else expr
    else:
        expr = ["${{ %s }}", "${{ %s", "${{ %s }}}", "${{ env.get(%s) }}"][kind] % junk
        line = f"    - {expr}"
    text = splice(TEMPLATE[fmt], where, line, replace=False)
    render_bytes(tmp, fmt, text.encode())


@SETTINGS
@given(where=st.integers(0, 20), junk=selector_junk, v1_if=st.booleans())
def test_broken_selectors(tmp_path_factory, where, junk, v1_if):
    tmp = tmp_path_factory.mktemp("sel")
    if v1_if:
        line = f"    - if: {junk or 'x'}\n      then: dep"
        render_bytes(tmp, RecipeFormat.V1, splice(V1, 12, line, replace=False).encode())
    else:
        line = f"    - dep  # [{junk}]"
        render_bytes(tmp, RecipeFormat.V0, splice(V0, 9 + where % 5, line, replace=False).encode())


@SETTINGS
@given(fmt=formats, junk=st.binary(min_size=1, max_size=300), keep_head=st.booleans())
def test_binary_junk(tmp_path_factory, fmt, junk, keep_head):
    tmp = tmp_path_factory.mktemp("bin")
    data = (TEMPLATE[fmt].encode()[:60] if keep_head else b"") + junk
    render_bytes(tmp, fmt, data)


@settings(SETTINGS, max_examples=12)
@given(fmt=formats, depth=st.integers(50, 150_000), style=st.sampled_from(["[", "{a: ", "- "]))
def test_huge_nesting(tmp_path_factory, fmt, depth, style):
    tmp = tmp_path_factory.mktemp("deep")
    close = {"[": "]", "{a: ": "}", "- ": ""}[style]
    payload = style * depth + "x" + close * depth
    text = TEMPLATE[fmt] + "extra:\n  deep: " + payload + "\n"
    renders = render_bytes(tmp, fmt, text.encode())
    if depth > 1000:
        assert all(r.error is not None and r.error.line is not None for r in renders)


@pytest.mark.parametrize("fmt", [RecipeFormat.V0, RecipeFormat.V1])
@pytest.mark.parametrize(
    ("broken", "line"),
    [
        ("requirements:\n  host:\n    - a\n   - b\n", 4),  # bad indentation
        ("about:\n  summary: [unclosed\n  home: x\n", 3),
        ("about:\n  summary: 'unterminated\n", 3),
    ],
)
def test_yaml_errors_are_located_on_their_line(tmp_path, fmt, broken, line):
    head = TEMPLATE[fmt]
    base = head.count("\n")
    [r, *_] = render_bytes(tmp_path, fmt, (head + broken).encode())
    assert r.error is not None
    assert r.error.line is not None and abs(r.error.line - (base + line)) <= 1, r.error


def test_undecodable_bytes_never_crash_and_v1_locates_them(tmp_path):
    for fmt in (RecipeFormat.V0, RecipeFormat.V1):
        data = TEMPLATE[fmt].encode() + b"about:\n  summary: caf\xe9\n"
        [r, *_] = render_bytes(tmp_path / fmt.value, fmt, data)
        if fmt is RecipeFormat.V1:  # v0 reads undecodable bytes as U+FFFD, tolerant like conda-build
            assert r.error is not None and r.error.line == TEMPLATE[fmt].count("\n") + 2


@pytest.mark.parametrize("fmt", [RecipeFormat.V0, RecipeFormat.V1])
def test_one_bad_recipe_among_good_ones_never_stops_the_others(tmp_path, fmt):
    sources = []
    bodies = {
        "a-good": TEMPLATE[fmt],
        "b-yaml": TEMPLATE[fmt] + "about: [\n",
        "c-binary": "\x00\x01\x02",
        "d-deep": TEMPLATE[fmt] + "extra:\n  x: " + "[" * 5000 + "]" * 5000 + "\n",
        "e-good": TEMPLATE[fmt].replace("name: good", "name: good2"),
    }
    for name, body in bodies.items():
        d = tmp_path / "recipes" / name
        d.mkdir(parents=True)
        (d / FILE[fmt]).write_text(body)
        sources.append(RecipeSource(d, f"recipes/{name}", fmt, d / FILE[fmt]))
    with time_limit(60):
        renders = render_all(sources, ["linux-64"], RenderOptions())
    ok = {r.recipe: r.ok for r in renders}
    assert ok == {
        "recipes/a-good": True,
        "recipes/b-yaml": False,
        "recipes/c-binary": False,
        "recipes/d-deep": False,
        "recipes/e-good": True,
    }
    res = CliRunner().invoke(app, ["render", str(tmp_path), "--json"])
    assert res.exit_code == 1
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert [("outputs" in x) for x in lines] == [True, False, False, False, True]
    assert res.stderr.count(FILE[fmt]) == 3
    assert "Traceback" not in res.output


# --- located errors for hostile recipes (issue 12) -----------------------------------------------------


@pytest.mark.parametrize(
    "filename, text, line, message",
    [
        (
            "recipe.yaml",
            "package:\n  name: a\n  version: '1.0'\nbuild:\n  number: 0\nfoo: bar\n",
            6,
            "unknown",
        ),
        (
            "meta.yaml",
            "package:\n  name: a\n  version: 1\n\x00\x01binary\xff\n",
            4,
            "binary content (NUL byte)",
        ),
        (
            "recipe.yaml",
            "package:\n  name: a\n  version: '1'\n\x00\x01binary\n",
            4,
            "binary content (NUL byte)",
        ),
        ("meta.yaml", "package:\n  name: ''\n  version: ''\n", 2, "empty package name"),
        (
            "meta.yaml",
            "package:\n  name: 'Bad Name!'\n  version: '1'\n",
            2,
            "invalid package name 'Bad Name!'",
        ),
        ("meta.yaml", "package:\n  name: nover\n", None, "empty version"),
        ("meta.yaml", "package:\n  name: a\n  version: '1.0-2'\n", 3, "invalid version '1.0-2'"),
    ],
)
def test_hostile_recipes_get_located_errors_never_a_job(tmp_path, filename, text, line, message):
    from planner.inputs.discover import discover
    from planner.model import RenderOptions
    from planner.render.recipe import render_all

    d = tmp_path / "r"
    d.mkdir()
    (d / filename).write_bytes(
        text.encode("utf-8", "surrogateescape") if "\xff" not in text else text.encode("latin-1")
    )
    [render] = render_all(discover(tmp_path), ["linux-64"], RenderOptions())
    assert render.variants == () and render.error is not None
    assert render.error.line == line and message in render.error.message
    assert str(render.error.path).endswith(filename)
    assert render.error.message.isprintable() or "\n" in render.error.message
