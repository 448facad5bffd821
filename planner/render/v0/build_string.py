"""conda-build's build string for a rendered v0 output (``py312h1a2b3c4_0``), informative.

The string has three parts:

* a prefix naming the language versions the package is built for: ``py312`` when python is both a
  run requirement and a build (or host, when there is a host section) requirement; ``py`` alone
  for ``noarch: python``; ``np``, ``pl``, ``lua``, ``r`` likewise (numpy only with ``numpy x.x``
  or ``pin_compatible('numpy', max_pin='x.x')``);
* ``h`` + the first 7 hex digits of the SHA-1 of the used variant values as sorted JSON, leaving
  out python / r_base / perl / lua (already in the prefix) unless their value has a space, and
  adding run requirements on virtual packages (``__glibc``);
* the build number.

A ``build.string`` in the recipe wins unless it uses ``h{{ PKG_HASH }}``. Plans do not depend on
this string (node ids have their own hash); it lets the fidelity benchmark check our used variant
values to the last byte, and shows users the file name conda-build would produce.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

_NUMPY_XX = re.compile(r"(numpy\s*x\.x)|pin_compatible\([\'\"]numpy.*max_pin=[\'\"]x\.x[\'\"]")
_NUMPY_COMPATIBLE = re.compile(r"pin_\w+\([\'\"]numpy[\'\"]")
_NUMPY_COMPATIBLE_X = re.compile(r"pin_\w+\([\'\"]numpy[\'\"].*((?<=x_pin=[\'\"])[x\.]*(?=[\'\"]))")
_PKG_HASH = re.compile(r"h\{\{\s*PKG_HASH\s*\}\}")
_HASH = re.compile(r"h[0-9a-f]{7}")

#: (prefix, package names, version parts) in conda-build's order.
_PREFIXES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("np", ("numpy",), 2),
    ("py", ("python",), 2),
    ("pl", ("perl",), 3),
    ("lua", ("lua",), 2),
    ("r", ("r", "r-base"), 2),
    ("mro", ("mro-base",), 3),
    ("mro", ("mro-base_impl",), 3),
)


_NAME = re.compile(r"[^\s=<>!~\[,|]+")


def _names(specs: Sequence[str]) -> list[str]:
    """Package names as conda's MatchSpec reads them (``r-base>=4.0`` -> ``r-base``)."""
    return [m.group(0) for m in map(_NAME.match, specs) if m]


def _version_pin(specs: Sequence[str], name: str) -> str:
    version = ""
    for spec in specs:
        parts = spec.split()
        if parts and parts[0] == name and len(parts) > 1:
            version = parts[1]
    return version


@lru_cache(maxsize=64)
def _exclude_pattern(excludes: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(rf"{re.escape(e)}[\s$]?.*" for e in excludes))


def hash_contents(
    used: Mapping[str, str], run: Sequence[str], requirements_text: str, ignore_version: Sequence[str] = ()
) -> dict[str, str]:
    """The values conda-build hashes into the build string."""
    deps = set(used)
    excludes = ["python", "r_base", "perl", "lua", *ignore_version]
    if "numpy" in deps:
        compatible = bool(_NUMPY_COMPATIBLE.search(requirements_text))
        m = _NUMPY_COMPATIBLE_X.search(requirements_text) if compatible else None
        not_xx = m.group(1).count("x") != 2 if m else True
        if _NUMPY_XX.search(requirements_text) or (compatible and not not_xx):
            excludes.append("numpy")
    pattern = _exclude_pattern(tuple(excludes))
    kept = [k for k in deps if not pattern.match(k) or " " in used[k]]
    contents = {} if kept == ["target_platform"] else {k: used[k] for k in kept}
    contents.update({spec.split(" ")[0]: spec for spec in run if spec.startswith("__")})
    return contents


def build_string(
    *,
    requirements: Mapping[str, Sequence[str]],
    has_host_section: bool,
    variant: Mapping[str, str],
    used: Mapping[str, str],
    noarch: str | None,
    build_number: int,
    build: Mapping[str, Any],
    requirements_text: str,
    raw_text: str,
    ignore_version: Sequence[str] = (),
) -> str:
    """The build string conda-build gives one output (see the module docstring)."""
    manual = build.get("string")
    if manual not in (None, "") and not _PKG_HASH.search(raw_text):
        return str(manual)
    contents = hash_contents(used, list(requirements.get("run") or ()), requirements_text, ignore_version)
    digest = ""
    if contents:
        digest = "h" + hashlib.sha1(json.dumps(contents, sort_keys=True).encode()).hexdigest()[:7]
    if manual not in (None, ""):  # ``string: foo_h{{ PKG_HASH }}_0``: the hash goes where it says
        return _HASH.sub(digest, str(manual))
    env = "host" if has_host_section else "build"
    deps = list(requirements.get(env) or ())
    dep_names = _names(deps)
    run_names = _names(list(requirements.get("run") or ()))
    numpy_xx = bool(_NUMPY_XX.search(requirements_text))
    res: list[str] = []
    for prefix, names, places in _PREFIXES:
        for run_name in run_names:
            for name in names:
                if run_name != name or name not in dep_names:
                    continue
                if name == "numpy" and not numpy_xx:
                    continue
                if noarch == name:
                    res.append(prefix)
                    continue
                candidates = [*names, *(n.replace("-", "_") for n in names if "-" in n)]
                version = ""
                for cand in candidates:
                    version = _version_pin(deps, cand) or variant.get(cand.replace("-", "_"), "")
                    if version:
                        break
                entry = "".join([prefix, *version.split(".")[:places]])
                if entry not in res:
                    res.append(entry)
    features = build.get("features") or []
    if isinstance(features, str):
        features = [features]
    if res:
        res.append("_")
    if features:
        res.extend(("_".join(str(f) for f in features), "_"))
    res.append(str(build_number))
    out = "".join(res)  # ``digest``: as computed above (conda-build computes the same hash twice)
    if _HASH.search(out):
        return _HASH.sub(digest, out)
    ret = out.rsplit("_", 1)
    try:
        int(ret[0])
        out = "_".join((digest, ret[0])) if digest else ret[0]
    except ValueError:
        out = ret[0] + digest
    return "_".join([out, *ret[1:]])
