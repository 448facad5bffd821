"""Rendered v0 variants are shared objects: equal content, one object, invisible to every reader.

Sharing makes a chunk of renders pickle each distinct variant once (the render pool's results), so
the caller rebuilds each once; the renders themselves must compare, hash and round-trip as before.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from planner.model import RecipeFormat, RecipeSource, RenderOptions, Variant
from planner.render.recipe import render_recipe
from planner.render.v0.outputs import interned_variant

META = """\
package:
  name: {name}
  version: 1.0
requirements:
  build:
    - {{{{ compiler('c') }}}}
  run:
    - zlib
"""


@given(st.dictionaries(st.sampled_from(["python", "numpy", "zlib", "c_compiler"]), st.text(max_size=5)))
def test_interned_equals_a_fresh_variant(values: dict[str, str]) -> None:
    v = interned_variant(values)
    assert v == Variant(values) and hash(v) == hash(Variant(values))
    assert interned_variant(dict(reversed(list(values.items())))) is v


def test_renders_share_variants_and_round_trip(tmp_path: Path) -> None:
    sources = []
    for name in ("alpha", "beta"):
        d = tmp_path / name
        d.mkdir()
        (d / "meta.yaml").write_text(META.format(name=name))
        sources.append(RecipeSource(path=d, rel=name, format=RecipeFormat.V0, recipe_file=d / "meta.yaml"))
    renders = [r for s in sources for r in render_recipe(s, ["linux-64", "osx-arm64"], RenderOptions())]
    linux = [r.variants[0].outputs[0].variant for r in renders if r.platform == "linux-64"]
    assert linux[0] is linux[1] and "c_compiler" in linux[0]
    again = pickle.loads(pickle.dumps(renders))
    assert again == renders
    assert [r.to_dict() for r in again] == [r.to_dict() for r in renders]
