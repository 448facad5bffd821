"""v1 render speed: rattler-build's ``--render-only`` per call vs the cached fast path.

``planner.render.v1.render`` first renders through :func:`planner.render.v1.fast.render_fast`
(the variant files
parsed once per (files, platform), then ``Stage0Recipe.render``) and falls back to
``build_recipes(render_only=True)`` (which re-reads every variant file on every call) only when the
fast path cannot answer. This benchmark renders the same recipes both ways, end to end through
``render_recipe``, with the full conda-forge pinning, and prints the median ms per recipe-platform.

The recipes are synthetic (written to a temp dir): the shapes of ``tests/test_render_v1.py``
(single output with context, multi-output with ``pin_subpackage``, compilers + stdlib, ``skip`` on a
variant, ``noarch: python``, a staging cache) times N names.

    python -m benchmarks v1_speed                 # 10 copies of each shape on 3 platforms
    python -m benchmarks v1_speed --copies 3 --config /path/to/conda_build_config.yaml
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.fidelity import default_corpus
from planner.model import RecipeFormat, RecipeSource, RenderOptions
from planner.render.recipe import render_recipe
from planner.render.v1 import render as render_v1

SHAPES = {
    "single": """\
context:
  version: "0.3.1"
package:
  name: NAME
  version: ${{ version }}
build:
  number: 2
requirements:
  host:
    - zlib
  run:
    - zlib >=1.2
    - if: linux
      then: libgcc
""",
    "multi": """\
context:
  version: "1.0"
recipe:
  name: NAME
  version: ${{ version }}
outputs:
  - package:
      name: libNAME
    requirements:
      build:
        - ${{ compiler('c') }}
        - ${{ stdlib('c') }}
      host:
        - zlib
  - package:
      name: NAME-tools
    requirements:
      run:
        - ${{ pin_subpackage('libNAME', upper_bound='x.x') }}
""",
    "python_skip": """\
package:
  name: NAME
  version: "2.0"
build:
  skip:
    - match(python, "<3.11")
    - win
requirements:
  host:
    - python
    - numpy
    - pip
  run:
    - python
""",
    "noarch": """\
package:
  name: NAME
  version: "3.1"
build:
  noarch: python
requirements:
  host:
    - python
    - pip
  run:
    - python >=3.9
    - requests
""",
    "staging": """\
recipe:
  name: NAME
  version: "4.0"
outputs:
  - staging:
      name: NAME-build
    requirements:
      build:
        - ${{ compiler('cxx') }}
      host:
        - openssl
  - package:
      name: libNAME
    inherit: NAME-build
    requirements:
      run:
        - openssl
""",
}


def write_recipes(root: Path, copies: int) -> list[RecipeSource]:
    sources = []
    for i in range(copies):
        for shape, text in SHAPES.items():
            name = f"{shape.replace('_', '-')}{i}"
            d = root / name
            d.mkdir(parents=True)
            (d / "recipe.yaml").write_text(text.replace("NAME", name))
            sources.append(RecipeSource(d, name, RecipeFormat.V1, d / "recipe.yaml"))
    return sources


def _slow_raw(source, target, build_platform, configs, environ):
    return render_v1._render_only(source.recipe_file, target, build_platform, configs, environ)


def measure(sources: list[RecipeSource], platforms: list[str], options: RenderOptions) -> list[float]:
    """ms per recipe-platform, one sample per (recipe, platform)."""
    samples = []
    for src in sources:
        for p in platforms:
            t0 = time.perf_counter()
            (r,) = render_recipe(src, [p], options)
            samples.append((time.perf_counter() - t0) * 1000)
            if r.error is not None:
                raise SystemExit(f"{src.rel}@{p}: {r.error}")
    return samples


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks v1_speed", description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--platform", action="append", default=None)
    ap.add_argument("--config", type=Path, default=default_corpus() / "config" / "conda-forge-pinning.yaml")
    ns = ap.parse_args(argv)
    platforms = ns.platform or ["linux-64", "osx-arm64", "win-64"]
    options = RenderOptions(exclusive_configs=(ns.config,))
    with tempfile.TemporaryDirectory() as tmp:
        sources = write_recipes(Path(tmp), ns.copies)
        fast_raw = render_v1._render_raw
        render_v1._render_raw = _slow_raw  # "before": every call through build_recipes
        try:
            before = measure(sources, platforms, options)
            slow_renders = [render_recipe(s, platforms, options) for s in sources[: len(SHAPES)]]
        finally:
            render_v1._render_raw = fast_raw
        after = measure(sources, platforms, options)
        fast_renders = [render_recipe(s, platforms, options) for s in sources[: len(SHAPES)]]
    same = slow_renders == fast_renders
    n = len(before)
    print(f"{len(sources)} v1 recipes x {len(platforms)} platforms = {n} renders, config {ns.config.name}")
    mb, ma = statistics.median(before), statistics.median(after)
    print(f"before (build_recipes per call): median {mb:.2f} ms, total {sum(before):.0f} ms")
    print(f"after  (cached config + Stage0): median {ma:.2f} ms, total {sum(after):.0f} ms")
    print(f"speed-up of the median: {mb / ma:.1f}x; same renders: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
