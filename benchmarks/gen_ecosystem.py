"""Generate a synthetic conda ecosystem of N v0 recipes with the shape of a real one.

Why synthetic: no real tree of 30,000 recipes ships with the project, and the scale benchmark needs
sizes (1k, 3k, 10k, 30k) whose only difference is the size. The shape follows what conda-forge and
bioconda look like:

- a few *hubs* (a compression library, an SSL library, a numeric core, a test framework...) that most
  recipes depend on, chosen with a heavy-tailed preference, so the graph has a few very wide fan-outs;
- recipes spread over ``--depth`` layers (default 24): a recipe in layer L depends on one recipe of layer
  L-1 (so the longest chain really is ``depth`` long) and on a few of the layers below;
- a few dependency cycles (a run requirement pointing back up: ``A -> B -> A`` and a 3-cycle);
- v0 ``meta.yaml`` with Jinja (``{% set %}``, ``compiler()``, ``stdlib()``, ``pin_subpackage``),
  line selectors (``# [osx]``, ``# [win]``, ``# [linux and aarch64]``, ``skip: true  # [win]``) and the
  variant keys python and numpy, over a ``conda_build_config.yaml`` with python 3.11 to 3.13;
- three kinds, as in bioconda/conda-forge: compiled Python extensions (python x numpy variants), noarch
  Python packages, and C/C++ libraries or tools (compiler only); a few multi-output recipes.

The output is deterministic for a given ``--recipes`` and ``--seed``: same arguments, same bytes.

Usage::

    python -m benchmarks gen_ecosystem OUT --recipes 30000 [--seed 1] [--depth 24]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

HUBS = (
    "zlib",
    "openssl",
    "libcurl",
    "xz",
    "bzip2",
    "libffi",
    "hdf5",
    "libblas",
    "pybind11",
    "cython",
    "setuptools-scm",
    "pytest",
    "numcore",
    "pandas-lite",
    "click",
    "requests",
)
PYTHONS = ("3.11.* *_cpython", "3.12.* *_cpython", "3.13.* *_cp313")

CONDA_BUILD_CONFIG = """\
# Global variant config of the generated ecosystem (the shape of conda-forge's pinning).
c_compiler:
  - gcc                        # [linux]
  - clang                      # [osx]
  - vs2022                     # [win]
c_compiler_version:
  - 13                         # [linux]
  - 18                         # [osx]
cxx_compiler:
  - gxx                        # [linux]
  - clangxx                    # [osx]
  - vs2022                     # [win]
cxx_compiler_version:
  - 13                         # [linux]
  - 18                         # [osx]
c_stdlib:
  - sysroot                    # [linux]
  - macosx_deployment_target   # [osx]
  - vs                         # [win]
c_stdlib_version:
  - 2.17                       # [linux]
  - 10.13                      # [osx and x86_64]
  - 11.0                       # [osx and arm64]
  - 2022.14                    # [win]
target_platform:
  - linux-64                   # [linux and x86_64]
  - linux-aarch64              # [linux and aarch64]
  - linux-ppc64le              # [linux and ppc64le]
  - linux-s390x                # [linux and s390x]
  - osx-64                     # [osx and x86_64]
  - osx-arm64                  # [osx and arm64]
  - win-64                     # [win]
python:
  - 3.11.* *_cpython
  - 3.12.* *_cpython
  - 3.13.* *_cp313
numpy:
  - 2
  - 2
  - 2
zip_keys:
  - - python
    - numpy
zlib:
  - 1.3
openssl:
  - 3
hdf5:
  - 1.14.3
"""


@dataclass
class Recipe:
    """One generated recipe: its name, kind, layer and the recipes it depends on."""

    name: str
    kind: str  # "ext" (compiled python), "py" (noarch python), "lib" (C/C++)
    layer: int
    version: str
    deps: list[str] = field(default_factory=list)
    run_only: list[str] = field(default_factory=list)  # back-edges that close cycles
    multi_output: bool = False


def _name(rng: random.Random, kind: str, i: int) -> str:
    prefix = {"ext": "py", "py": "py", "lib": "lib"}[kind]
    syllables = ("ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "qu", "bi", "dra")
    stem = "".join(rng.choice(syllables) for _ in range(2))
    return f"{prefix}-{stem}{i:05d}"


def generate(n: int, seed: int = 1, depth: int = 24) -> list[Recipe]:
    """The recipes of an ecosystem of ``n`` recipes (hubs included), deterministic for ``seed``."""
    rng = random.Random(seed)
    depth = max(2, min(depth, max(2, n // 4)))
    recipes: list[Recipe] = []
    # per layer, what a recipe of each kind may depend on: C libraries depend on C libraries only
    by_layer: dict[str, dict[int, list[Recipe]]] = {"lib": {}, "any": {}}
    py_hubs = ("pytest", "click", "requests", "setuptools-scm")
    hubs = [
        Recipe(h, "py" if h in py_hubs else "lib", 0, "1.0.0")
        for h in HUBS[: max(1, min(len(HUBS), n // 50))]
    ]
    for h in hubs:
        recipes.append(h)
        by_layer["any"].setdefault(0, []).append(h)
        if h.kind == "lib":
            by_layer["lib"].setdefault(0, []).append(h)
    for i in range(len(hubs), n):
        if i - len(hubs) < depth:
            # a backbone of C libraries, one per layer, so the longest chain really is ``depth`` long
            kind, layer = "lib", i - len(hubs) + 1
        else:
            kind = rng.choices(("ext", "py", "lib"), weights=(0.3, 0.45, 0.25))[0]
            # higher layers hold more recipes (leaf applications), as in a real distribution
            layer = min(depth, 1 + int(rng.triangular(0, depth, depth * 0.6)))
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
        r = Recipe(
            _name(rng, kind, i), kind, layer, version, multi_output=kind == "lib" and rng.random() < 0.05
        )
        pool = by_layer["lib" if kind == "lib" else "any"]
        below = pool.get(layer - 1)
        if below:
            r.deps.append(rng.choice(below).name)
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
            lower = pool.get(rng.randrange(0, layer))
            if lower:
                r.deps.append(rng.choice(lower).name)
        my_hubs = [h for h in hubs if kind != "lib" or h.kind == "lib"]
        weights = [1.0 / (k + 1) for k in range(len(my_hubs))]  # Zipf: a few hubs take most edges
        for hub in rng.choices(my_hubs, weights=weights, k=rng.choice((1, 2, 2, 3))):
            r.deps.append(hub.name)
        r.deps = sorted(set(r.deps) - {r.name})
        recipes.append(r)
        by_layer["any"].setdefault(layer, []).append(r)
        if kind == "lib":
            by_layer["lib"].setdefault(layer, []).append(r)
    # a few cycles: a low recipe gets a run requirement on one that (transitively) depends on it
    by_name = {r.name: r for r in recipes}
    candidates = [r for r in recipes if r.layer >= 2 and any(d not in HUBS for d in r.deps)]
    for top in rng.sample(candidates, min(len(candidates), max(1, min(5, n // 5000)))):
        dep = by_name[next(d for d in top.deps if d not in HUBS)]
        dep.run_only.append(top.name)  # a 2-cycle: top needs dep, dep's run needs top
    return recipes


def _dep_spec(name: str, by_name: dict[str, Recipe]) -> str:
    dep = by_name[name]
    major = dep.version.split(".")[0]
    return f"{name} >={major}" if name not in HUBS else name


def meta_yaml(r: Recipe, by_name: dict[str, Recipe]) -> str:
    """The v0 ``meta.yaml`` text of one generated recipe."""
    deps = [_dep_spec(d, by_name) for d in r.deps]
    lines = [
        f'{{% set name = "{r.name}" %}}',
        f'{{% set version = "{r.version}" %}}',
        "",
        "package:",
        "  name: {{ name|lower }}",
        "  version: {{ version }}",
        "",
        "source:",
        "  url: https://example.invalid/{{ name }}-{{ version }}.tar.gz",
        f"  sha256: {hashlib.sha256(r.name.encode()).hexdigest()}",
        "",
        "build:",
        "  number: 0",
    ]
    if r.kind == "py":
        lines += ["  noarch: python", "  script: {{ PYTHON }} -m pip install . -vv --no-deps"]
    else:
        skips = ["py<311"] if r.kind == "ext" else []
        if r.layer % 7 == 3:
            skips.append("win")
        if skips:
            lines += [f"  skip: true  # [{' or '.join(skips)}]"]
        lines += ["  run_exports:", "    - {{ pin_subpackage(name, max_pin='x.x') }}"]
    lines += ["", "requirements:"]
    if r.kind == "py":
        lines += ["  host:", "    - python >=3.9", "    - pip", "    - setuptools"]
        lines += ["  run:", "    - python >=3.9"] + [f"    - {d}" for d in deps]
    elif r.kind == "ext":
        lines += (
            [
                "  build:",
                "    - {{ compiler('c') }}",
                "    - {{ stdlib('c') }}",
                "    - {{ compiler('cxx') }}",
                "    - cross-python_{{ target_platform }}  # [build_platform != target_platform]",
                "  host:",
                "    - python",
                "    - pip",
                "    - numpy",
            ]
            + [f"    - {d}" for d in deps]
            + [
                "  run:",
                "    - python",
                "    - libcxx  # [osx]",
            ]
            + [f"    - {d}" for d in deps if d not in ("pybind11", "cython")]
        )
    else:
        lines += (
            [
                "  build:",
                "    - {{ compiler('c') }}",
                "    - {{ stdlib('c') }}",
                "    - make  # [unix]",
                "    - cmake",
                "    - m2-patch  # [win]",
                "  host:",
            ]
            + [f"    - {d}" for d in deps]
            + ["    - libgomp  # [linux]", "  run:"]
            + [f"    - {d}" for d in deps]
        )
    for back in r.run_only:
        lines.append(f"    - {back}")
    if r.multi_output:
        lines += (
            [
                "",
                "outputs:",
                "  - name: {{ name }}",
                "    requirements:",
                "      host:",
            ]
            + [f"        - {d}" for d in deps]
            + [
                "      run:",
            ]
            + [f"        - {d}" for d in deps]
            + [
                "  - name: {{ name }}-devel",
                "    requirements:",
                "      run:",
                "        - {{ pin_subpackage(name, exact=True) }}",
            ]
        )
    lines += [
        "",
        "test:",
        "  requires:",
        "    - pytest  # [not win]",
        "  commands:",
        "    - echo ok",
        "",
        "about:",
        "  home: https://example.invalid",
        "  license: BSD-3-Clause",
        f"  summary: generated recipe {r.name} (layer {r.layer})",
        "",
    ]
    return "\n".join(lines)


def write(root: Path, recipes: list[Recipe], platforms: tuple[str, ...] | None = None) -> None:
    """Write ``recipes`` as ``ROOT/recipes/<name>/meta.yaml`` plus the variant config and stackplan.yaml."""
    by_name = {r.name: r for r in recipes}
    (root / "recipes").mkdir(parents=True, exist_ok=True)
    (root / "conda_build_config.yaml").write_text(CONDA_BUILD_CONFIG)
    plats = platforms or (
        "linux-64",
        "linux-aarch64",
        "linux-ppc64le",
        "linux-s390x",
        "osx-64",
        "osx-arm64",
        "win-64",
    )
    (root / "stackplan.yaml").write_text(
        "# generated by benchmarks/gen_ecosystem.py\n"
        "platforms: [" + ", ".join(plats) + "]\n"
        "exclusive_configs: [conda_build_config.yaml]\n"
    )
    for r in recipes:
        d = root / "recipes" / r.name
        d.mkdir(exist_ok=True)
        (d / "meta.yaml").write_text(meta_yaml(r, by_name))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks gen_ecosystem", description=__doc__.split("\n")[0]
    )
    ap.add_argument("out", type=Path, help="directory to write (created; must be empty or absent)")
    ap.add_argument("--recipes", type=int, default=30000, help="number of recipes (default 30000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--depth", type=int, default=24, help="number of dependency layers (default 24)")
    args = ap.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        print(f"error: {args.out} is not empty", file=sys.stderr)
        return 2
    recipes = generate(args.recipes, args.seed, args.depth)
    write(args.out, recipes)
    print(f"wrote {len(recipes)} recipes to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
