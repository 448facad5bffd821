"""Render rattler-build ``recipe.yaml`` (v1) recipes through py-rattler-build, into the shared model.

We do not write a second v1 renderer: rattler-build's own render is the definition of the dialect.
Two of its entry points are used, each for what it does right (measured: docs/robustness.md, v1 render speed):

* ``cli_api.build_recipes(render_only=True)`` is what ``rattler-build build --render-only`` does: it
  applies ``build.skip``, de-duplicates outputs that do not depend on a variant key, and reads the
  recipe-local ``variants.yaml`` / ``conda_build_config.yaml``. It prints its JSON on file
  descriptor 1, so we capture that fd. This is the render we trust. It re-reads every variant file
  on each call (~30 ms for the conda-forge pinning), so :func:`planner.render.v1.fast.render_fast`
  answers first with the same items (config parsed once, ``Stage0Recipe.render``, skip and
  de-duplication done there) and this path runs only when it declines.
* its error message is a bare "Failed to parse recipe", so when it fails we parse and render again
  through ``Stage0Recipe`` whose errors carry the reason and often a line (``3:11:`` for YAML,
  a span for Jinja), and turn that into a located :class:`RecipeError`.

Normalisation into the v0 model: requirements become strings (``pin_subpackage`` and
``pin_compatible`` become the bare package name, as conda-build's ``finalize=False`` render writes
them; bare build/host names that are variant keys get the variant's value, as rattler-build applies
it when it builds: ``planner.matchspec.apply_variant_v1``), ``run_constraints`` is
``run_constrained``, the variant is rattler-build's used variant minus the pins of the recipe's own
outputs, test requirements are the union of the script tests' ``requirements``. The outputs of one
platform are grouped into build jobs (:class:`RenderedRecipe`) greedily: an output joins the first
job whose variant agrees with its own.

The ``noarch`` target renders on the noarch build platform and keeps the noarch outputs only.
Not thread-safe (fd 1 is process-wide): parallel renders use processes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from planner.model import (
    PlatformRender,
    RecipeError,
    RecipeFormat,
    RecipeSource,
    RenderedOutput,
    RenderedRecipe,
    RenderOptions,
    Requirements,
    Variant,
)
from planner.platforms import DEFAULT_NOARCH_BUILD_PLATFORM
from planner.render.v1.fast import _environ, render_fast

_PHASE_KEYS = {"build": "build", "host": "host", "run": "run", "run_constraints": "run_constrained"}


def render_v1(
    source: RecipeSource, platforms: Sequence[str], options: RenderOptions
) -> tuple[PlatformRender, ...]:
    """One :class:`PlatformRender` per platform; a recipe problem on one platform is that platform's error."""
    text = read_recipe_text(source.recipe_file)
    configs = rattler_config_files((*options.exclusive_configs, *options.variant_configs))
    parse_error = _parse_error(source.recipe_file, text)
    if parse_error is not None:  # the same for every platform: say it once, without rendering
        return tuple(PlatformRender(source.rel, p, error=parse_error) for p in platforms)
    out = []
    # rattler-build's env.get reads the process environment: it must be exactly the declared one.
    # render_many already swapped it for the batch (or runs in a scrubbed worker), so this is for
    # direct callers, and skipped when neither the recipe nor a recipe-local config can read it
    # (the rattler-build fallback and the variant-config parse swap on their own).
    reads_env = "env" in text or bool(source.local_configs)
    with _environ(options.environ) if reads_env else contextlib.nullcontext():
        for platform in platforms:
            try:
                out.append(_render_platform(source, platform, configs, options))
            except RecipeError as exc:
                out.append(PlatformRender(source.rel, platform, error=exc))
            except Exception as exc:  # rattler-build refused: find out why, with a line when we can
                err = _diagnose(source, text, platform, configs, options, exc)
                out.append(PlatformRender(source.rel, platform, error=err))
    return tuple(out)


def read_recipe_text(path: Path) -> str:
    """The recipe as text, or a located error for a file that is not UTF-8 text."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RecipeError(path, None, f"cannot read recipe: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RecipeError(path, line, f"not UTF-8 text (byte {data[exc.start]:#04x})") from None
    if "\x00" in text:
        raise RecipeError(path, text.count("\n", 0, text.index("\x00")) + 1, "binary content (NUL byte)")
    return text


def _render_platform(
    source: RecipeSource, platform: str, configs: list[str], options: RenderOptions
) -> PlatformRender:
    target = (options.build_platform or DEFAULT_NOARCH_BUILD_PLATFORM) if platform == "noarch" else platform
    build_platform = options.build_platform or target
    raw = _render_raw(source, target, build_platform, configs, options.environ)
    made = [_output(item) for item in raw]
    if platform == "noarch":
        made = [(o, pins) for o, pins in made if o.noarch]
    own_names = {o.name for o, _ in made} | {str(i["recipe"]["package"]["name"]) for i in raw}
    outputs = [_pin_variant_values(_drop_own_pins(o, own_names), pins) for o, pins in made]
    cross = build_platform if build_platform != target else None
    jobs = _group(source, platform, outputs, cross)
    return PlatformRender(source.rel, platform, variants=jobs)


def _render_raw(
    source: RecipeSource, target: str, build_platform: str, configs: list[str], environ: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The render items of one target: the fast path, or rattler-build's own ``--render-only``
    whenever the fast path cannot answer (it then also produces the located error)."""
    try:
        return render_fast(source, target, build_platform, configs, environ)
    except Exception:
        return _render_only(source.recipe_file, target, build_platform, configs, environ)


def _render_only(
    recipe: Path, target: str, build_platform: str, configs: list[str], environ: Mapping[str, str]
) -> list[dict[str, Any]]:
    """rattler-build's ``--render-only`` JSON for one target platform (a list, one item per output)."""
    from rattler_build.cli_api import build_recipes

    with _environ(environ), _capture_fd1() as captured, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        build_recipes(
            [str(recipe)],
            target_platform=target,
            build_platform=build_platform,
            variant_config=configs or None,
            render_only=True,
        )
    text = captured.read().decode("utf-8", "replace")
    start = text.find("[")
    if start < 0:  # even a recipe skipped everywhere prints "[]": silence is a failure
        raise RuntimeError("rattler-build printed no render")
    return json.loads(text[start:])


class _Captured:
    def __init__(self) -> None:
        self.data = b""

    def read(self) -> bytes:
        return self.data


@contextmanager
def _capture_fd1() -> Iterator[_Captured]:
    """Collect what native code writes on fd 1 (Python's sys.stdout is flushed first and left alone)."""
    import sys

    captured = _Captured()
    sys.stdout.flush()
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(1)
        os.dup2(tmp.fileno(), 1)
        try:
            yield captured
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            tmp.seek(0)
            captured.data = tmp.read()


def rattler_config_files(paths: Sequence[Path]) -> list[str]:
    """The variant files as rattler-build must see them.

    rattler-build tells the two formats apart by file name: ``conda_build_config.yaml`` is read
    conda-build style (``# [sel]`` selectors), anything else as ``variants.yaml``. A global pinning
    is often called something else (``conda-forge-pinning.yaml``), so a file whose name does not say
    "variants" is handed over through a symlink named ``conda_build_config.yaml`` in a private temp
    dir (one per file, reused; a symlink always shows the current content).
    """
    out = []
    for p in paths:
        p = Path(p).absolute()
        if p.name == "conda_build_config.yaml" or "variants" in p.name:
            out.append(str(p))
            continue
        key = hashlib.sha256(str(p).encode()).hexdigest()[:16]
        link = Path(tempfile.gettempdir()) / f"stackplan-{os.getuid()}-cbc" / key / "conda_build_config.yaml"
        if not link.is_symlink() or os.readlink(link) != str(p):
            link.parent.mkdir(parents=True, exist_ok=True)
            tmp = link.with_name(f".{os.getpid()}.tmp")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(p)
            os.replace(tmp, link)  # atomic: parallel workers never see a half-made link
        out.append(str(link))
    return out


def _spec(item: Any) -> str | None:
    """One requirement as a MatchSpec string; pins become the bare package name."""
    if isinstance(item, str):
        return " ".join(item.split())
    if isinstance(item, Mapping):
        for key in ("pin_subpackage", "pin_compatible"):
            pin = item.get(key)
            if isinstance(pin, Mapping) and pin.get("name"):
                return str(pin["name"])
    return None  # e.g. a run_exports mapping: not a requirement of this phase


def _specs(items: Any) -> tuple[str, ...]:
    return tuple(s for s in (_spec(i) for i in items or ()) if s)


def _is_pin(item: Any) -> bool:
    return isinstance(item, Mapping) and any(k in item for k in ("pin_subpackage", "pin_compatible"))


def _build_time_items(recipe: Mapping[str, Any], phase: str) -> list[tuple[str, bool]]:
    """``build`` or ``host`` requirements as ``(spec, came from a pin)``: an inherited staging cache's
    first, each spec once (the cache is built as part of this output, so its needs are this output's)."""
    reqs = recipe.get("requirements") or {}
    items = [(spec, _is_pin(i)) for i in reqs.get(phase) or () if (spec := _spec(i))]
    for cache in _inherited_caches(recipe):
        creqs = cache.get("requirements") or {}
        cached = [(spec, _is_pin(i)) for i in creqs.get(phase) or () if (spec := _spec(i))]
        merged: dict[str, bool] = {}
        for spec, pin in (*cached, *items):
            merged.setdefault(spec, pin)
        items = list(merged.items())
    return items


#: Per build-time phase, which of an output's requirements (in order) came from a pin.
PinFlags = dict[str, tuple[bool, ...]]


def _output(item: Mapping[str, Any]) -> tuple[RenderedOutput, PinFlags]:
    """One rendered output, and which of its ``build``/``host`` requirements came from a
    ``pin_subpackage`` / ``pin_compatible``: rattler-build resolves those from the subpackage or the
    host environment, never from the variant (see ``_pin_variant_values``)."""
    recipe = item["recipe"]
    build = recipe.get("build") or {}
    reqs = recipe.get("requirements") or {}
    phases = {ours: list(_specs(reqs.get(theirs))) for theirs, ours in _PHASE_KEYS.items()}
    build_time = {phase: _build_time_items(recipe, phase) for phase in ("build", "host")}
    for phase, items in build_time.items():
        phases[phase] = [spec for spec, _ in items]
    pins = {phase: tuple(pin for _, pin in items) for phase, items in build_time.items()}
    requirements = Requirements(**{k: tuple(v) for k, v in phases.items()})
    test_requires: list[str] = []
    for test in recipe.get("tests") or ():
        treqs = (test.get("requirements") or {}) if isinstance(test, Mapping) else {}
        for spec in (*_specs(treqs.get("run")), *_specs(treqs.get("build"))):
            if spec not in test_requires:
                test_requires.append(spec)
    variant = (item.get("build_configuration") or {}).get("variant") or {}
    extra = recipe.get("extra") or {}
    test_on = extra.get("test_on") if isinstance(extra, Mapping) else None
    noarch = build.get("noarch")
    output = RenderedOutput(
        name=str(recipe["package"]["name"]),
        version=str(recipe["package"]["version"]),
        build_number=int(build.get("number") or 0),
        requirements=requirements,
        test_requires=tuple(test_requires),
        noarch=str(noarch) if noarch else None,
        build_string=build.get("string"),
        variant=Variant(variant),
        test_on=str(test_on) if test_on else None,
    )
    return output, pins


def _inherited_caches(recipe: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The staging caches (``outputs: - staging:``) this output inherits: their build and host
    requirements must exist before this output can be built, so they are part of its own."""
    inherits = recipe.get("inherits_from")
    name = inherits.get("cache_name") if isinstance(inherits, Mapping) else None
    if not name:
        return []
    return [c for c in recipe.get("staging_caches") or () if isinstance(c, Mapping) and c.get("name") == name]


def _drop_own_pins(out: RenderedOutput, own_names: set[str]) -> RenderedOutput:
    """rattler-build puts ``pin_subpackage`` targets in the variant (``libm: 1.2 h123_0``); they are
    outputs of this recipe, not variant keys of a job."""
    if not any(k in own_names for k in out.variant):
        return out
    return replace(out, variant=Variant({k: v for k, v in out.variant.items() if k not in own_names}))


def _pin_variant_values(out: RenderedOutput, pins: PinFlags) -> RenderedOutput:
    """Bare build/host names that are variant keys get the variant's value, as rattler-build does
    when it builds (``openssl`` -> ``openssl 3.*``, ``python`` -> ``python 3.12.* *_cpython``); its
    rule, which is not conda-build's, lives in :func:`planner.matchspec.apply_variant_v1`. A
    requirement that came from ``pin_compatible`` / ``pin_subpackage`` (``pins``) is not a plain
    spec to rattler-build (``apply_variant`` pins only ``Dependency::Spec``) and stays as it is."""
    from planner.matchspec import apply_variant_v1

    def pinned_phase(specs: tuple[str, ...], flags: tuple[bool, ...]) -> tuple[str, ...]:
        return tuple(
            spec if pin else apply_variant_v1(spec, out.variant)
            for spec, pin in zip(specs, flags, strict=True)
        )

    reqs = out.requirements
    pinned = replace(
        reqs,
        build=pinned_phase(reqs.build, pins["build"]),
        host=pinned_phase(reqs.host, pins["host"]),
    )
    return out if pinned == reqs else replace(out, requirements=pinned)


def _group(
    source: RecipeSource, platform: str, outputs: list[RenderedOutput], cross: str | None
) -> tuple[RenderedRecipe, ...]:
    """Outputs into jobs: each output joins the first job whose variant agrees with its own."""
    groups: list[tuple[dict[str, str], list[RenderedOutput]]] = []
    for out in outputs:
        for variant, members in groups:
            if out.variant.agrees_with(variant):
                variant.update(out.variant)
                members.append(out)
                break
        else:
            groups.append((dict(out.variant), [out]))
    return tuple(
        RenderedRecipe(
            recipe=source.rel,
            format=RecipeFormat.V1,
            platform=platform,
            variant=Variant(variant),
            outputs=tuple(members),
            build_platform=cross,
        )
        for variant, members in groups
    )


# --- errors -------------------------------------------------------------------------------------

_YAML_POS = re.compile(r"(?:YAML|yaml)[^:]*: (\d+):(\d+): (.*)")
_SPAN_LINE = re.compile(r"line: (\d+)")
_UNKNOWN_FIELD = re.compile(r"unknown (?:top-level )?field '([^'\s]{1,80})'")
_JINJA_EXPR = re.compile(r"\$\{\{(.*?)\}\}")
_MISSING_RANGE = re.compile(r"missing range specifier for '([^'\n]{1,200})'")


def _parse_error(path: Path, text: str) -> RecipeError | None:
    """Parse once (no variants, no platform): YAML and Jinja syntax errors, located."""
    from rattler_build import Stage0Recipe

    try:
        Stage0Recipe.from_file(path)  # public, and unlike from_yaml it writes no temp dir
    except Exception as exc:
        return _located(path, text, str(exc), "cannot parse recipe")
    return None


def _diagnose(
    source: RecipeSource,
    text: str,
    platform: str,
    configs: list[str],
    options: RenderOptions,
    exc: BaseException,
) -> RecipeError:
    """Ask ``Stage0Recipe`` what is wrong (its errors carry reasons and positions)."""
    from rattler_build import JinjaConfig, PlatformConfig, RenderConfig, Stage0Recipe, VariantConfig

    path = source.recipe_file
    recipe = Stage0Recipe.from_file(path)  # parsed before without error
    target = (options.build_platform or DEFAULT_NOARCH_BUILD_PLATFORM) if platform == "noarch" else platform
    pc = PlatformConfig(target_platform=target, build_platform=options.build_platform or target)
    files = [*configs, *(str(p) for p in source.local_configs)]
    for f in files:  # a broken variant config is the config's error, not the recipe's
        try:
            VariantConfig.from_files_with_context([f], JinjaConfig(platform=pc))
        except Exception as config_exc:
            shown = Path(os.path.realpath(f))
            return _located(shown, shown.read_text(errors="replace"), str(config_exc), "bad variant config")
    try:
        vc = VariantConfig.from_files_with_context(files, JinjaConfig(platform=pc)) if files else None
        with _environ(options.environ):
            recipe.render(vc, RenderConfig(platform=pc))
    except Exception as render_exc:
        return _located(path, text, str(render_exc), "cannot render recipe")
    return _located(path, text, str(exc), "rattler-build refused the recipe")


def _located(path: Path, text: str, message: str, what: str) -> RecipeError:
    """A rattler-build message turned into ``RecipeError(path, line, reason)``."""
    message = " ".join(message.split()) or what
    m = _YAML_POS.search(message)
    if m:
        return RecipeError(path, int(m.group(1)), f"invalid YAML: {m.group(3)}")
    m = _UNKNOWN_FIELD.search(message)
    if m:  # rattler-build names the field but not its line
        field = re.compile(rf"^\s*(?:-\s*)?{re.escape(m.group(1))}\s*:", re.MULTILINE).search(text)
        line = text.count("\n", 0, field.start()) + 1 if field else None
        return RecipeError(path, line, f"{what}: {_tidy(message)}")
    m = _SPAN_LINE.search(message)
    if m:
        reason = re.sub(r",? ?span: Span \{.*", "", message)
        return RecipeError(path, int(m.group(1)), f"{what}: {_tidy(reason)}")
    m = _MISSING_RANGE.search(message)
    if m:  # rattler-build names the bare version but not its line
        return RecipeError(path, _bare_version_line(text, m.group(1)), f"{what}: {_tidy(message)}")
    return RecipeError(path, _bad_expression_line(text), f"{what}: {_tidy(message)}")


def _bare_version_line(text: str, version: str) -> int | None:
    r"""The line of the requirement rattler-build refused for a version without operator: the first
    list item ``- NAME VERSION [BUILD]`` with that version as written, else the first whose version is a lone
    ``${{ ... }}`` expression (the value came from the context or the variant).

    >>> _bare_version_line("host:\n  - zlib >=1\n  - openssl 3  # why\n", "3")
    3
    >>> _bare_version_line("host:\n  - openssl ${{ openssl }}\n", "3")
    2
    """
    written = re.compile(rf"^\s*-\s*[^\s#]+\s+{re.escape(version)}(?:\s+[^\s#]+)?\s*(?:#.*)?$")
    templated = re.compile(r"^\s*-\s*[^\s#]+\s+\$\{\{[^}]*\}\}\s*(?:#.*)?$")
    lines = text.split("\n")
    for pattern in (written, templated):
        for number, line in enumerate(lines, start=1):
            if pattern.match(line):
                return number
    return None


def _tidy(message: str) -> str:
    inner = re.search(r'message: "(.*?)"(?:,|\s*\}|$)', message)  # Rust Debug of a JinjaError
    if inner:
        message = inner.group(1)
    message = re.sub(r"^(Render error: |parse error: )", "", message)
    return message[:500]


def _bad_expression_line(text: str) -> int | None:
    """The first line whose ``${{ ... }}`` expression Jinja cannot even parse (rattler-build's Jinja
    parse errors give the line inside the expression, not in the file)."""
    import jinja2

    env = jinja2.Environment()
    lines = text.split("\n")  # editor lines: str.splitlines() would also break at \x0b, \x85, ...
    for number, line in enumerate(lines, start=1):
        if "${{" in line and "}}" not in line.split("${{", 1)[1]:
            return number
        for expr in _JINJA_EXPR.findall(line):
            try:
                env.parse("{{" + expr + "}}")
            except jinja2.TemplateSyntaxError:
                return number
    return None
