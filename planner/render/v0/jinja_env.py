"""The Jinja2 side of a meta.yaml: one environment, conda-build's functions, tolerant undefined names.

conda-build applies line selectors to the raw text (its template loader filters the source),
renders Jinja, applies selectors again to the rendered text, then reads YAML. Its render step sees
the selector namespace, the variant values (as strings), ``environ``, ``PKG_NAME``-style build
variables and these functions:

* ``compiler('c')`` -> ``gcc_linux-64 15.*``: the variant's ``c_compiler`` (or the platform's
  native compiler), ``_<target_platform>``, then the ``c_compiler_version`` as ``15.*``;
* ``stdlib('c')`` -> ``sysroot_linux-64 2.17.*`` from ``c_stdlib`` / ``c_stdlib_version``;
* ``cdt('mesa-libgl')`` -> ``mesa-libgl-conda-x86_64`` (``cdt_name`` / ``cdt_arch``);
* ``pin_subpackage(name, ...)`` and ``pin_compatible(name, ...)`` -> the bare name: without a
  solver (conda-build's ``finalize=False``) there is nothing to pin against;
* ``load_setup_py_data()`` / ``load_file_regex()`` / ``load_file_data()``: the source is not
  downloaded, so they return empty values, and the call is recorded.

Undefined names render as empty strings and never fail; their names are recorded (they land in
``undefined_jinja``). The environment is created once per process and templates are compiled
once per distinct selected text (``compile_template``), then rendered per platform and variant.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import tomllib
from collections import ChainMap
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from planner.matchspec import ensure_valid_spec
from planner.render.selectors import os_module

_NATIVE_COMPILERS: dict[str, dict[str, str]] = {
    "linux": {"c": "gcc", "cxx": "gxx", "fortran": "gfortran"},
    "osx": {"c": "clang", "cxx": "clangxx", "fortran": "gfortran"},
    "win": {"c": "vs2017", "cxx": "vs2017", "fortran": "gfortran"},
}


class RenderRecord:
    """What one render noticed: undefined names and the source-reading helpers it called."""

    __slots__ = ("loaders", "undefined")

    def __init__(self) -> None:
        self.undefined: list[str] = []
        self.loaders: list[str] = []

    def note_undefined(self, name: str) -> None:
        if name not in self.undefined:
            self.undefined.append(name)


class NeverFailUndefined(jinja2.Undefined):
    """An undefined value that renders as '' and absorbs any operation, recording its name."""

    __slots__ = ()

    def _record(self) -> None:
        record = getattr(_CURRENT, "record", None)
        if record is not None and self._undefined_name:
            record.note_undefined(self._undefined_name)

    def __str__(self) -> str:
        self._record()
        return ""

    def __iter__(self):
        self._record()
        return iter(())

    def __bool__(self) -> bool:
        self._record()
        return False

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        self._record()
        return NeverFailUndefined(name=f"{self._undefined_name}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> NeverFailUndefined:
        self._record()
        return self

    def _absorb(self, *args: Any, **kwargs: Any) -> NeverFailUndefined:
        self._record()
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _absorb
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __pow__ = __rpow__ = _absorb
    __getitem__ = __neg__ = __pos__ = _absorb

    def __eq__(self, other: object) -> bool:
        return isinstance(other, jinja2.Undefined)

    def __ne__(self, other: object) -> bool:
        return not isinstance(other, jinja2.Undefined)

    def __lt__(self, other: object) -> bool:
        return False

    __le__ = __gt__ = __ge__ = __lt__

    def __hash__(self) -> int:
        return id(type(self))

    def __len__(self) -> int:
        return 0


# The record of the render in progress, per thread: Jinja creates undefined values without access
# to the render's context, so they find their record here. Always reset in a ``finally``.
_CURRENT = threading.local()


#: How many loop steps ``range`` may hand out in one render, and how long a string or list ``*``
#: may build: a recipe is untrusted input and must not hang or exhaust the planner.
RANGE_BUDGET = 100_000
MAX_PRODUCT = 1_000_000


def _budget_range(*args: int) -> range:
    r = range(*args)
    left = getattr(_CURRENT, "range_left", RANGE_BUDGET) - len(r)
    if left < 0:
        raise SecurityError(f"range() over {RANGE_BUDGET} steps in one recipe")
    _CURRENT.range_left = left
    return r


class GuardedEnvironment(SandboxedEnvironment):
    """The sandbox plus limits on ``*`` and ``**`` (sizes and exponents)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError("exponent too large in a recipe expression")
            return left**right
        if isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
            seq, n = (left, right) if isinstance(left, (str, list, tuple)) else (right, left)
            if isinstance(n, int) and len(seq) * n > MAX_PRODUCT:
                raise SecurityError("sequence repetition too large in a recipe expression")
        return left * right


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The one Jinja environment (sandboxed: recipes are untrusted input; no private attributes)."""
    env = GuardedEnvironment(undefined=NeverFailUndefined, keep_trailing_newline=True, autoescape=False)
    env.globals["range"] = _budget_range
    return env


@lru_cache(maxsize=64)  # reused across a recipe's platforms; compiled templates are big
def compile_template(text: str) -> jinja2.Template:
    """Compile a recipe once; raises jinja2.TemplateSyntaxError (the caller locates it)."""
    return environment().from_string(text)


def _compiler(lang: str, platform: str, variant: Mapping[str, str], component: str) -> str:
    os_ = platform.split("-")[0]
    target = variant.get("target_platform", platform)
    key = f"{lang}_{component}"
    if component == "compiler":
        name = variant.get(key) or _NATIVE_COMPILERS.get(os_, {}).get(lang, lang)
    else:
        name = variant.get(key)
        if not name:
            return ""
    version = variant.get(f"{key}_version")
    spec = f"{name}_{target}"
    if version:
        spec = ensure_valid_spec(f"{spec} {version}")
    return spec


def _cdt(package: str, platform: str, variant: Mapping[str, str]) -> str:
    arch = platform.split("-")[-1]
    if arch in ("ppc64le", "aarch64", "ppc64", "s390x"):
        name, arch = "cos7", arch
    else:
        name, arch = "cos6", ("x86_64" if arch == "64" else "i686")
    name = variant.get("cdt_name", name)
    arch = variant.get("cdt_arch", arch)
    head, _, rest = package.partition(" ")
    return f"{head}-{name}-{arch}" + (f" {rest}" if rest else "")


def load_str_data(text: str, fmt: str, *args: Any, **kwargs: Any) -> Any:
    """conda-build's ``load_str_data``: parse a string the recipe itself holds (json/yaml/toml)."""
    fmt = fmt.lower()
    if fmt == "json":
        return json.loads(text)
    if fmt in ("yaml", "yml"):
        from planner.render.v0.yaml import load_recipe_yaml

        return load_recipe_yaml(text, "<load_str_data>")
    if fmt == "toml":
        return tomllib.loads(text)
    raise ValueError(f"unknown format {fmt!r} for load_str_data (json, yaml or toml)")


def _language_vars(variant: Mapping[str, str]) -> dict[str, str]:
    py = (variant.get("python") or "3.12").split(" ")[0]
    py_ver = ".".join(py.replace("*", "").strip(".").split(".")[:2])
    out = {
        "PY_VER": py_ver,
        "CONDA_PY": py_ver.replace(".", ""),
        "PY3K": "1" if py_ver.startswith("3") else "0",
    }
    if "numpy" in variant:
        np = ".".join(variant["numpy"].split(" ")[0].replace("*", "").strip(".").split(".")[:2])
        out.update(NPY_VER=np, CONDA_NPY=np.replace(".", ""))
    if "perl" in variant:
        out["PERL_VER"] = variant["perl"]
    if "r_base" in variant:
        out["R_VER"] = variant["r_base"]
    return out


def base_context(
    selector_ns: Mapping[str, Any], variant: Mapping[str, str], recipe_dir: str = ""
) -> dict[str, Any]:
    """The part of the template context shared by every recipe on one platform (cache it).

    Variant values are strings here, as conda-build's ``get_dict`` puts them after the
    selector namespace (where they may be ints).
    """
    ctx: dict[str, Any] = dict(environment().globals)  # range, dict, namespace, cycler, joiner
    ctx.update(selector_ns)
    ctx.update(
        SRC_DIR="",
        PREFIX="$PREFIX",
        BUILD_PREFIX="$BUILD_PREFIX",
        PYTHON="python",
        CONDA_BUILD_STATE="RENDER",
        PKG_NAME="",
        PKG_VERSION="",
        PKG_BUILDNUM="0",
        PKG_BUILD_STRING="placeholder",
        PKG_HASH="1234567",
        installed={},
        time=time,
        datetime=datetime,
    )
    ctx.update(variant)
    return ctx


def render_context(
    platform: str,
    variant: Mapping[str, str],
    base: Mapping[str, Any],
    changed: Mapping[str, Any],
    environ: Mapping[str, str],
    record: RenderRecord,
    *,
    recipe_dir: str = "",
    pkg: Mapping[str, str] | None = None,
) -> ChainMap:
    """The names a meta.yaml template sees for one platform and variant.

    ``base`` comes from :func:`base_context` for the config's first variant; ``changed`` holds
    the selector names and variant values where this variant differs. Layered, not copied.
    """

    def loader(name: str, value: Any):
        def call(*args: Any, **kwargs: Any) -> Any:
            if name not in record.loaders:
                record.loaders.append(name)
            return value() if callable(value) else value

        return call

    top: dict[str, Any] = dict(changed)
    top.update(_language_vars(variant))
    top["RECIPE_DIR"] = recipe_dir
    if pkg:
        top.update(pkg)
    top.update(
        compiler=lambda lang, *a, **k: _compiler(lang, platform, variant, "compiler"),
        stdlib=lambda lang, *a, **k: _compiler(lang, platform, variant, "stdlib"),
        cdt=lambda package, *a, **k: _cdt(package, platform, variant),
        pin_subpackage=lambda name, *a, **k: name,
        pin_compatible=lambda name, *a, **k: name,
        load_setup_py_data=loader("load_setup_py_data", dict),
        load_setuptools=loader("load_setuptools", dict),
        load_npm=loader("load_npm", dict),
        load_file_regex=loader("load_file_regex", None),
        load_file_data=loader("load_file_data", dict),
        load_str_data=load_str_data,
        resolved_packages=lambda *a, **k: [],
        ccache=lambda *a, **k: "ccache",
        os=os_module(environ),
        environ=dict(environ),
    )
    return ChainMap(top, base)  # type: ignore[arg-type]


def render_template(template: jinja2.Template, context: Mapping[str, Any], record: RenderRecord) -> str:
    """Render with ``record`` collecting undefined names; Jinja runtime errors propagate."""
    _CURRENT.record = record
    _CURRENT.range_left = RANGE_BUDGET
    env = template.environment
    try:
        ctx = template.new_context(context, shared=True)  # type: ignore[arg-type]
        try:
            return env.concat(template.root_render_func(ctx))  # type: ignore[attr-defined]
        except Exception:
            return env.handle_exception()
    finally:
        _CURRENT.record = None
