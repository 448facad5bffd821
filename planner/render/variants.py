"""Variant configs (conda_build_config.yaml): loading, merging, and expanding over the used keys.

conda-build's model, which we follow:

* each config file is read with its line selectors evaluated for the target platform, then as YAML
  where every scalar stays a string (conda-build's ``BaseLoader``);
* files merge in order, later keys replacing earlier ones; ``zip_keys`` groups accumulate;
  ``pin_run_as_build`` / ``ignore_version`` / ``ignore_build_only_deps`` / ``extend_keys`` extend;
  exclusive configs replace the defaults, then the recipe-local ``conda_build_config.yaml``, then
  ``--variant-config`` files;
* a recipe is expanded only over the keys it *uses* (see :mod:`planner.render.v0.used`): every other key
  keeps its first value, zipped keys move together;
* a noarch recipe is not expanded over ``python``: it takes the newest python of the config.

Parsed files and merged configs are cached per process, keyed by (path, mtime, platform, environ),
so rendering thousands of recipes parses the global pinning once per platform.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml.cyaml import CBaseLoader
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from planner.model import RecipeError
from planner.render.selectors import select_lines, selector_namespace

#: Keys whose values merge across files instead of replacing (conda-build's extend_keys).
EXTEND_KEYS = frozenset({"pin_run_as_build", "ignore_version", "ignore_build_only_deps", "extend_keys"})
#: Keys that never take part in the expansion.
SPECIAL_KEYS = frozenset({"zip_keys", "pin_run_as_build", "ignore_version", "ignore_build_only_deps",
                          "extend_keys", "replacements"})  # fmt: skip

DEFAULT_PYTHON_VARIANT = "3.12"


def internal_defaults(platform: str) -> dict[str, Any]:
    """conda-build's built-in variant (``DEFAULT_VARIANTS`` + native compilers), lowest priority."""
    os_ = platform.split("-")[0]
    compilers = {
        "linux": {"c_compiler": "gcc", "cxx_compiler": "gxx", "fortran_compiler": "gfortran"},
        "osx": {"c_compiler": "clang", "cxx_compiler": "clangxx", "fortran_compiler": "gfortran"},
        "win": {"c_compiler": "vs2017", "cxx_compiler": "vs2017", "fortran_compiler": "gfortran", "vc": "14"},
    }.get(os_, {})
    base: dict[str, Any] = {
        "python": [DEFAULT_PYTHON_VARIANT],
        "numpy": ["1.26"],
        "perl": ["5.26.2"],
        "lua": ["5"],
        "r_base": ["3.5"],
        "cpu_optimization_target": ["nocona"],
        "pin_run_as_build": {
            "python": {"min_pin": "x.x", "max_pin": "x.x"},
            "r-base": {"min_pin": "x.x", "max_pin": "x.x"},
        },
        "ignore_version": [],
        "ignore_build_only_deps": ["python", "numpy"],
        "extend_keys": sorted(EXTEND_KEYS),
        "cran_mirror": ["https://cran.r-project.org"],
        "target_platform": [platform],
    }
    base.update({k: [v] for k, v in compilers.items()})
    return base


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _normalize(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Scalars become one-element lists; empty keys are dropped (conda-build's trim_empty_keys)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        key = str(key)
        if value is None or value == "" or value == [] or value == {}:
            continue
        if key == "zip_keys":
            groups = [g for g in _as_list(value) if g]
            if groups and all(isinstance(g, str) for g in groups):
                groups = [groups]
            out[key] = [[str(k) for k in _as_list(g)] for g in groups]
        elif isinstance(value, Mapping):
            out[key] = dict(value)
        else:
            out[key] = ["" if v is None else v for v in _as_list(value)]
    return out


@lru_cache(maxsize=256)
def _load_cached(
    path: str, mtime: float, platform: str, environ: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    ns = selector_namespace(platform, {}, dict(environ))
    selected = select_lines(text, ns, path)
    loader = CBaseLoader(selected)
    try:
        data = loader.get_single_data()
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise RecipeError(path, line, f"invalid YAML: {exc.problem}") from None
    except YAMLError as exc:
        raise RecipeError(path, None, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RecipeError(path, 1, "a variant config must be a mapping of keys to lists of values")
    return _normalize(data)


def load_variant_file(path: Path, platform: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """One conda_build_config.yaml with selectors evaluated for ``platform``.

    Values are lists of strings (``zip_keys``: a list of lists of keys; ``pin_run_as_build``: a
    mapping). Raises :class:`RecipeError` for unreadable files, bad YAML or bad selectors.
    """
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except OSError as exc:
        raise RecipeError(str(p), None, f"cannot read variant config: {exc.strerror}") from None
    data = _load_cached(str(p.resolve()), mtime, platform, tuple(sorted(environ.items())))
    return {k: (v.copy() if isinstance(v, (list, dict)) else v) for k, v in data.items()}


@dataclass(frozen=True, eq=False)  # identity: merged configs are cached and shared
class VariantConfig:
    """The merged variant configuration of one platform: values per key, and the zip groups."""

    values: Mapping[str, Any]
    zip_groups: tuple[tuple[str, ...], ...]

    def group_of(self, key: str) -> tuple[str, ...]:
        for group in self.zip_groups:
            if key in group:
                return group
        return (key,)

    def first(self) -> dict[str, str]:
        """The variant made of every key's first value (conda-build's ``variants[0]``); a copy."""
        return dict(self._first)

    @cached_property
    def _first(self) -> dict[str, str]:
        return {
            k: str(v[0])
            for k, v in self.values.items()
            if isinstance(v, list) and v and k not in SPECIAL_KEYS
        }


def _zip_groups(specs: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, ...], ...]:
    """Every file's zip groups, in order; a key grouped twice keeps its first group."""
    groups: list[tuple[str, ...]] = []
    for spec in specs:
        for g in spec.get("zip_keys") or ():
            if tuple(g) not in groups:
                groups.append(tuple(g))
    seen: set[str] = set()
    clean: list[tuple[str, ...]] = []
    for g in groups:
        g2 = tuple(k for k in g if k not in seen)
        seen.update(g2)
        if g2:
            clean.append(g2)
    return tuple(clean)


def _check_zip_lengths(source: str, spec: Mapping[str, Any]) -> None:
    for g in spec.get("zip_keys") or ():
        lengths = {len(spec[k]) for k in g if isinstance(spec.get(k), list)}
        if len(lengths) > 1:
            raise RecipeError(source, None, f"zip_keys group {list(g)}: the keys have different lengths")


def merge_specs(
    specs: Iterable[Mapping[str, Any]], sources: Sequence[str] | None = None, *, with_defaults: bool = False
) -> VariantConfig:
    """Merge parsed configs in order, as conda-build's ``combine_specs`` does.

    A later file's key replaces the earlier value, but a key of a zip group only when the file sets
    the whole group or the lengths still match; otherwise the later values must be a subset of the
    earlier ones (else the config is ambiguous: an error) and they *select* those rows. Keys in
    ``extend_keys`` (pin_run_as_build, ignore_version...) merge. Then each file, last first,
    narrows every key to the values it lists, unless that would leave none (conda-build's
    ``filter_combined_spec_to_used_keys``). ``sources`` name the specs in errors;
    ``with_defaults``: the first spec is conda-build's internal defaults, which never narrow.
    """
    specs = list(specs)
    names = list(sources) if sources is not None else [f"variant config #{i}" for i in range(len(specs))]
    groups = _zip_groups(specs)
    group_of = {k: g for g in groups for k in g}
    values: dict[str, Any] = {}
    for source, spec in zip(names, specs, strict=True):
        _check_zip_lengths(source, spec)
        extend = EXTEND_KEYS | set(spec.get("extend_keys") or ())
        for key, value in spec.items():
            if key == "zip_keys":
                continue
            if key in extend:
                if isinstance(value, Mapping):
                    merged = dict(values.get(key) or {})
                    merged.update(value)
                    values[key] = merged
                else:
                    old = values.get(key) or []
                    values[key] = list(dict.fromkeys([*old, *value]))
                continue
            if not isinstance(value, list):
                values[key] = value
                continue
            group = group_of.get(key, (key,))
            if all(k in spec for k in group):
                values[key] = list(value)
            elif key in values:
                same = all(
                    len(spec[k]) == len(value) if k in spec else len(values.get(k) or value) == len(value)
                    for k in group
                )
                if same:
                    values[key] = list(value)
                elif any(v not in values[key] for v in value):
                    raise RecipeError(
                        source, None, f"{key}: sets only part of zip group {list(group)} with new values"
                    )
            else:
                values[key] = list(value)
    # each file (last first, internal defaults excluded) narrows its keys to the values it lists; a
    # key the file of higher priority already narrowed is left alone by lower ones (conda-build's
    # ``seen_keys``): a recipe-local ``channel_targets: [defaults, defaults-debug]`` keeps both rows
    # even though the global pinning lists only ``defaults``
    seen: set[str] = set()
    for spec in reversed(specs[1:] if with_defaults else specs):
        extend = EXTEND_KEYS | set(spec.get("extend_keys") or ())
        for key, wanted in spec.items():
            if key == "zip_keys" or key in extend or not isinstance(wanted, list) or key in seen:
                continue
            seen.add(key)
            current = values.get(key)
            if not isinstance(current, list):
                continue
            group = tuple(k for k in group_of.get(key, (key,)) if isinstance(values.get(k), list))
            rows = [i for i, v in enumerate(current) if v in wanted]
            if rows and len(rows) < len(current):
                for k in group:
                    col = values[k]
                    values[k] = [col[i] for i in rows if i < len(col)]
    return VariantConfig(values, groups)


@lru_cache(maxsize=512)
def _combined_cached(
    files: tuple[tuple[str, float], ...], platform: str, environ: tuple[tuple[str, str], ...]
) -> VariantConfig:
    env = dict(environ)
    specs = [internal_defaults(platform)]
    specs += [load_variant_file(Path(f), platform, env) for f, _ in files]
    return merge_specs(specs, ["<conda-build defaults>", *(f for f, _ in files)], with_defaults=True)


@lru_cache(maxsize=1024)
def _resolved(path: str) -> str:
    return str(Path(path).resolve())


def combined_config(files: Sequence[Path], platform: str, environ: Mapping[str, str]) -> VariantConfig:
    """The merged config for ``platform`` from ``files`` in order (cached per process)."""
    keyed = []
    for f in files:
        try:
            keyed.append((_resolved(str(f)), Path(f).stat().st_mtime))
        except OSError as exc:
            raise RecipeError(str(f), None, f"cannot read variant config: {exc.strerror}") from None
    return _combined_cached(tuple(keyed), platform, tuple(sorted(environ.items())))


def _version_key(text: str) -> tuple:
    parts = []
    for p in text.split(" ")[0].replace("*", "").strip(".").split("."):
        parts.append((0, int(p), "") if p.isdigit() else (1, 0, p))
    return tuple(parts)


def expand(
    config: VariantConfig, used: Iterable[str], *, noarch_python: bool = False
) -> list[dict[str, str]]:
    """Every combination of the used keys' values; other keys keep their first value.

    Zipped keys move together (a used key brings its whole group). With ``noarch_python`` the
    python dimension collapses to the newest python (conda-build's noarch_python_build_age 0).
    Cached per (config, used keys): most recipes of a tree use the same few keys; each call gets
    its own copies.
    """
    return [dict(v) for v in _expand_cached(config, frozenset(used), noarch_python)]


@lru_cache(maxsize=1024)
def _expand_cached(
    config: VariantConfig, used: frozenset[str], noarch_python: bool
) -> tuple[dict[str, str], ...]:
    return tuple(_expand(config, used, noarch_python=noarch_python))


def _expand(
    config: VariantConfig, used: Iterable[str], *, noarch_python: bool = False
) -> list[dict[str, str]]:
    values = config.values
    used_set = {k for k in used if k in values and k not in SPECIAL_KEYS}
    dims: list[tuple[tuple[str, ...], list[tuple[str, ...]]]] = []
    done: set[str] = set()
    for key in sorted(used_set):
        if key in done:
            continue
        group = tuple(k for k in config.group_of(key) if isinstance(values.get(k), list) and values.get(k))
        if key not in group:
            group = (key,)
        done.update(group)
        columns = [[str(v) for v in values[k]] for k in group]
        n = min(len(c) for c in columns)
        rows = list(dict.fromkeys(tuple(c[i] for c in columns) for i in range(n)))
        dims.append((group, rows))
    if noarch_python:
        for i, (group, rows) in enumerate(dims):
            if "python" in group:
                idx = group.index("python")
                best = max(rows, key=lambda r: _version_key(r[idx]))
                dims[i] = (group, [best])
        if "python" not in done and isinstance(values.get("python"), list) and values["python"]:
            group = config.group_of("python")
            cols = {k: [str(v) for v in values.get(k) or []] for k in group}
            pys = cols["python"]
            best_i = max(range(len(pys)), key=lambda i: _version_key(pys[i]))
            dims.append(
                (group, [tuple(cols[k][best_i] if best_i < len(cols[k]) else cols[k][0] for k in group)])
            )
            done.update(group)
    base = config.first()
    # a non-used key of a zip group that a used key brought in already sits in ``done``;
    # other zip partners keep their first value, which ``first()`` already gives.
    out: list[dict[str, str]] = []
    for combo in itertools.product(*(rows for _, rows in dims)):
        variant = dict(base)
        for (group, _), row in zip(dims, combo, strict=True):
            variant.update(zip(group, row, strict=True))
        out.append(variant)
    return out or [base]
