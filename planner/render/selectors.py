"""Line selectors: ``- gcc  # [linux and not aarch64]`` keeps or drops one line of a recipe.

conda-build evaluates a selector as a Python expression in a namespace built for the target
platform (``get_selectors`` in its ``metadata.py``). We follow its rules:

* a line whose first non-blank character is ``#`` becomes an empty line (comments go first);
* a selector is the last ``[...]`` of a line, either at the end or inside a trailing comment;
  the line is kept without the selector when the expression is true, dropped otherwise;
* an unknown name counts as ``False`` (conda-build retries with the name replaced);
* the namespace holds the os and arch flags, ``py``/``np`` as ints, ``py3k``..., ``environ``,
  ``os``, every environment variable, and every variant key (ints where they parse, "true"/
  "false" as booleans).

This module is the only place that evaluates ``# [expr]``. Compiled expressions are cached
per process (a corpus has a few hundred distinct selectors, not thousands).

>>> ns = selector_namespace("osx-arm64", {"python": "3.12.* *_cpython"}, {})
>>> select_lines("a: 1  # [osx]\\nb: 2  # [linux]\\nc: 3  # [py>=312]\\n", ns, "meta.yaml")
'a: 1\\nc: 3\\n'
"""

from __future__ import annotations

import ast
import os as _os
import re
import warnings
from collections.abc import Mapping
from functools import lru_cache
from types import CodeType, SimpleNamespace
from typing import Any

from planner.model import RecipeError
from planner.platforms import parse_platform

# The last ``[...]`` of a line, at the end or inside a trailing comment (conda-build's sel_pat:
# trailing characters are allowed only after a ``#``, but not markdown links).
_SEL_PAT = re.compile(r"(.+?)\s*(#.*)?\[([^\[\]]+)\](?(2)[^\(\)]*)$")
_NAME_ERROR = re.compile(r"'(.+?)'")

#: Every os and arch conda knows, so ``# [win]`` or ``# [armv7l]`` is False rather than unknown.
_OSES = ("linux", "osx", "win", "zos", "emscripten", "wasi", "freebsd")
_ARCHES = ("x86", "x86_64", "aarch64", "arm64", "ppc64le", "ppc64", "s390x", "armv6l", "armv7l", "riscv64",
           "wasm32")  # fmt: skip

#: The names derived from python / numpy / perl / lua (see _language_flags).
LANGUAGE_NAMES = (
    "py",
    "py3k",
    "py2k",
    "py26",
    "py27",
    "py33",
    "py34",
    "py35",
    "py36",
    "np",
    "pl",
    "lua",
    "luajit",
)

#: Names a variant key cannot override in the namespace (conda-build sets them first).
_RESERVED = frozenset({*_OSES, *_ARCHES, "arm", "unix", "linux32", "linux64", "win32", "win64", "osx64",
                       "build_platform", "os", "environ", "nomkl", "py", "py3k", "py2k", "py26", "py27",
                       "py33", "py34", "py35", "py36", "np", "pl", "lua", "luajit"})  # fmt: skip

DEFAULT_PYTHON = "3.12"
DEFAULT_NUMPY = "1.26"
DEFAULT_PERL = "5.26.2"
DEFAULT_LUA = "5"


def _to_int_version(value: str, default: str) -> int:
    """``"3.12.* *_cpython"`` -> 312, ``"2"`` -> 2 (conda-build's py / np)."""
    text = (value or default).split(" ")[0]
    parts = [p for p in text.split(".")[:2]]
    digits = "".join(re.sub(r"\D", "", p) for p in parts)
    try:
        return int(digits)
    except ValueError:
        return _to_int_version(default, default) if value else 0


def _variant_value(value: str) -> Any:
    """Variant values in the selector namespace: ints where they parse, booleans for true/false."""
    try:
        return int(value)
    except (TypeError, ValueError):
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return value


def os_module(environ: Mapping[str, str]) -> SimpleNamespace:
    """A stand-in for the ``os`` module whose ``environ`` / ``getenv`` see only ``environ``.

    Recipes and configs write ``os.environ.get("CF_CUDA_ENABLED", "False")``; the real module
    would make a render depend on the shell it runs in.
    """
    env = dict(environ)
    return SimpleNamespace(environ=env, getenv=env.get, sep="/", pathsep=":", path=_os.path, name="posix")


def _language_flags(variant: Mapping[str, str]) -> dict[str, Any]:
    """``py`` / ``np`` as ints, ``py3k``, ``py27``..., ``pl``, ``lua``: derived from the variant."""
    ns: dict[str, Any] = {}
    py_text = variant.get("python") or DEFAULT_PYTHON
    py = _to_int_version(py_text, DEFAULT_PYTHON)
    major = py_text.split(".")[0].strip()
    ns.update(py=py, py3k=major == "3", py2k=major == "2")
    for v in (26, 27, 33, 34, 35, 36):
        ns[f"py{v}"] = py == v
    ns["np"] = _to_int_version(variant.get("numpy") or DEFAULT_NUMPY, DEFAULT_NUMPY)
    ns["pl"] = variant.get("perl") or DEFAULT_PERL
    lua = variant.get("lua") or DEFAULT_LUA
    ns["lua"] = lua
    ns["luajit"] = lua[:1] == "2"
    return ns


def selector_namespace(
    platform: str,
    variant: Mapping[str, str],
    environ: Mapping[str, str],
    build_platform: str | None = None,
) -> dict[str, Any]:
    """The names a selector can use when rendering for ``platform`` with ``variant``."""
    plat = parse_platform(platform)
    ns: dict[str, Any] = {name: False for name in (*_OSES, *_ARCHES)}
    if not plat.is_noarch:
        ns.update(plat.selector_flags())
        ns[plat.os] = True
    ns["arm"] = platform.startswith("linux-arm")
    ns["build_platform"] = build_platform or platform
    ns["__builtins__"] = SAFE_BUILTINS
    ns["os"] = os_module(environ)
    ns["environ"] = ns["os"].environ
    ns["nomkl"] = environ.get("FEATURE_NOMKL", "0") not in ("", "0")
    ns.update(_language_flags(variant))
    ns.update(environ)
    for key, value in variant.items():
        if key not in ns:
            ns[key] = _variant_value(value)
    ns.setdefault("target_platform", platform)
    return ns


def namespace_delta(
    base_ns: dict[str, Any],
    base_variant: Mapping[str, str],
    variant: Mapping[str, str],
    platform: str,
    environ: Mapping[str, str],
    build_platform: str | None = None,
    *,
    diff: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The namespace for ``variant`` from the one already built for ``base_variant``.

    Most variants differ from the config's first variant in one or two keys; rebuilding the
    namespace of ~600 pinning keys for each was the largest cost of a render.
    """
    if diff is None:
        diff = {k: v for k, v in variant.items() if base_variant.get(k) != v}
    if not diff:
        return base_ns
    ns = dict(base_ns)
    if diff.keys() & {"python", "numpy", "perl", "lua"}:
        ns.update(_language_flags(variant))
    for key, value in diff.items():
        if key not in _RESERVED and key not in environ:
            ns[key] = _variant_value(value)
    return ns


#: The builtins a selector may call. conda-build evaluates selectors with every builtin; a recipe
#: in a pull request is untrusted input, so we keep the ones recipes use and nothing that imports,
#: opens or executes.
SAFE_BUILTINS = {f.__name__: f for f in (int, str, float, bool, len, min, max, any, all, tuple, list, abs)}


@lru_cache(maxsize=8192)
def _compile(expr: str) -> CodeType:
    """Compile a selector once; reject private attributes and ``**`` (a way out or a hang)."""
    tree = ast.parse(expr.strip(), "<selector>", "eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ValueError(f"private attribute {node.attr!r} not allowed in a selector")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise ValueError(f"name {node.id!r} not allowed in a selector")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            raise ValueError("the power operator is not allowed in a selector")
    with warnings.catch_warnings():  # e.g. "'bool' object is not callable" after a False rewrite
        warnings.simplefilter("ignore", SyntaxWarning)
        return compile(tree, "<selector>", "eval")


def eval_selector(expr: str, namespace: dict[str, Any]) -> bool:
    """Evaluate one selector; unknown names are False, as in conda-build.

    Raises SyntaxError / other exceptions for a broken expression; callers locate them.
    """
    text = expr
    for _ in range(50):  # each retry removes one unknown name; a bound guards against loops
        try:
            return bool(eval(_compile(text), namespace, {}))
        except NameError as exc:
            m = _NAME_ERROR.search(str(exc))
            if not m:
                raise
            new = re.sub(rf"(?<![\w.]){re.escape(m.group(1))}(?!\w)", "False", text)
            if new == text:
                raise
            text = new
    raise ValueError(f"selector {expr!r} has too many unknown names")


@lru_cache(maxsize=2048)
def split_selectors(text: str) -> tuple[tuple[str | None, str], ...]:
    """Each line as (selector or None, line without the selector); comment lines become ''."""
    out: list[tuple[str | None, str]] = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line or line.lstrip().startswith("#"):
            out.append((None, ""))
            continue
        quote = line[-1] if line[-1] in ("'", '"') else ""
        if "[" in line and "]" in line:
            m = _SEL_PAT.match(line)
            if m and m.group(3):
                out.append((m.group(3), (m.group(1) + quote).rstrip()))
                continue
        out.append((None, line))
    return tuple(out)


@lru_cache(maxsize=2048)
def distinct_selectors(text: str) -> tuple[tuple[int, str], ...]:
    """Each distinct selector of ``text`` with the 0-based index of the first line that has it."""
    seen: dict[str, int] = {}
    for i, (selector, _) in enumerate(split_selectors(text)):
        if selector is not None and selector not in seen:
            seen[selector] = i
    return tuple((i, sel) for sel, i in seen.items())


def selector_values(
    text: str, namespace: dict[str, Any], path: str = "meta.yaml", line_offset: int = 0
) -> dict[str, bool]:
    """Every distinct selector of ``text`` evaluated once in ``namespace`` (in the order of first use).

    A broken selector is a RecipeError at the first line that has it (the first such line of the
    text wins), as :func:`select_lines` reports it.
    """
    values: dict[str, bool] = {}
    for i, selector in distinct_selectors(text):
        try:
            values[selector] = eval_selector(selector, namespace)
        except Exception as exc:  # any error in user code is the recipe's problem
            raise RecipeError(
                path, i + 1 + line_offset, f"invalid selector [{selector}]: {type(exc).__name__}: {exc}"
            ) from None
    return values


@lru_cache(maxsize=1024)
def _assemble(text: str, keep: tuple[bool, ...]) -> str:
    """``text`` with the lines whose selector is false dropped; ``keep``: one flag per distinct
    selector, in :func:`distinct_selectors` order. Cached: a recipe's raw text is selected the same
    way by most variants of a platform and by several platforms."""
    flags = {sel: k for (_, sel), k in zip(distinct_selectors(text), keep, strict=True)}
    lines = [line for selector, line in split_selectors(text) if selector is None or flags[selector]]
    return "\n".join(lines) + "\n"


def select_lines(text: str, namespace: dict[str, Any], path: str = "meta.yaml", line_offset: int = 0) -> str:
    """Apply every line selector of ``text``; a broken selector is a RecipeError at its line."""
    return assemble_selected(text, selector_values(text, namespace, path, line_offset))


def assemble_selected(text: str, values: Mapping[str, bool]) -> str:
    """``text`` selected by the values :func:`selector_values` gave for it."""
    return _assemble(text, tuple(values.values()))


def kept_line_numbers(text: str, namespace: dict[str, Any]) -> list[int]:
    """The 1-based line numbers of ``text`` that :func:`select_lines` keeps, in order.

    Only used on the error path, to turn a YAML error's line (in the selected text) back into a
    line of the recipe.
    """
    kept = []
    for i, (selector, _) in enumerate(split_selectors(text)):
        if selector is None:
            kept.append(i + 1)
            continue
        try:
            if eval_selector(selector, namespace):
                kept.append(i + 1)
        except Exception:  # select_lines already accepted these; be safe on the error path
            kept.append(i + 1)
    return kept
