"""Broken recipes never raise out of render_v0 and never hang: they give a located RecipeError."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.model import RecipeFormat, RecipeSource, RenderOptions
from planner.render.v0.render import render_v0

FRAGMENTS = [
    "package:\n", "  name: x\n", "  version: {{ v }}\n", "{% set v = '1' %}\n", "{% if linux %}\n",
    "{% endif %}\n", "{{", "}}", "{%", "%}", "requirements:\n", "  host:\n", "    - python\n",
    "    - zlib  # [linux]\n", "    - a  # [osx and (]\n", "  - [\n", ": :\n", "\t\n", "build:\n",
    "  number: x\n", "  skip: true  # [win]\n", "outputs:\n", "  - name: y\n", "{{ compiler('c') }}\n",
    "{{ undefined.attr() }}\n", "    - {{ pin_subpackage('x') }}\n", "'\n", '"\n', "# [linux]\n",
]  # fmt: skip

recipes = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join) | st.text(max_size=200)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=recipes)
def test_any_text_renders_or_fails_located(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rdir = Path(tmp)
        (rdir / "meta.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        src = RecipeSource(rdir, "r", RecipeFormat.V0, rdir / "meta.yaml")
        renders = render_v0(src, ["linux-64", "win-64"], RenderOptions())
    assert [r.platform for r in renders] == ["linux-64", "win-64"]
    for r in renders:
        if r.error is not None:
            assert r.error.path.endswith("meta.yaml")
            assert r.error.message
        else:
            for v in r.variants:
                for o in v.outputs:
                    assert isinstance(o.name, str) and isinstance(o.build_number, int)
