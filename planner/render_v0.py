"""Render a conda-build meta.yaml (v0) for each target platform and variant, as conda-build does.

Per platform:

1. merge the variant configs (exclusive configs, the recipe-local conda_build_config.yaml, then
   ``--variant-config`` files) -> :class:`planner.variants.VariantConfig`;
2. find the keys the whole recipe uses (:mod:`planner.v0_used`) and expand over them only
   (noarch: python takes the newest python instead of every python);
3. per variant: render the Jinja template (compiled once per recipe), apply line selectors to the
   rendered text, read YAML;
4. per output: its requirements (top-level ones for the output named like the recipe), variant
   pins on bare build/host names (``python`` -> ``python 3.12.* *_cpython``), the keys it uses,
   skip, noarch, test requirements;
5. drop outputs already produced by an earlier variant with the same used values (conda-build
   renders them once).

A problem on one platform becomes that platform's ``PlatformRender.error``; the others go on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from planner.jinja_env import (
    RenderRecord,
    base_context,
    compile_template,
    render_context,
    render_template,
    star_spec,
)
from planner.model import (
    PHASES,
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
from planner.selectors import (
    LANGUAGE_NAMES,
    kept_line_numbers,
    namespace_delta,
    select_lines,
    selector_namespace,
)
from planner.v0_used import (
    REQUIREMENTS_TEXT,
    candidates,
    output_chunks,
    outputs_text,
    trim_build_only,
    used_in_text,
)
from planner.v0_yaml import load_recipe_yaml
from planner.variants import SPECIAL_KEYS, VariantConfig, combined_config, expand

_WS = re.compile(r"\s+")
_XX = re.compile(r"([0-9a-zA-Z.\-_]+)\s+x\.x")


@dataclass(frozen=True)
class _Recipe:
    """What stays the same across platforms: the text, its template, where it lives."""

    source: RecipeSource
    path: str
    raw: str
    template: jinja2.Template
    local_configs: tuple[Path, ...]


def _load(source: RecipeSource) -> _Recipe:
    path = str(source.recipe_file)
    try:
        raw = source.recipe_file.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise RecipeError(path, None, f"cannot read recipe: {exc.strerror}") from None
    try:
        template = compile_template(raw)
    except jinja2.TemplateSyntaxError as exc:
        raise RecipeError(path, exc.lineno, f"Jinja syntax error: {exc.message}") from None
    local = tuple(p for p in source.local_configs if p.name == "conda_build_config.yaml")
    if not local:
        candidate = source.path / "conda_build_config.yaml"
        if candidate.is_file():
            local = (candidate,)
    return _Recipe(source, path, raw, template, local)


def render_v0(
    source: RecipeSource, platforms: Sequence[str], options: RenderOptions
) -> tuple[PlatformRender, ...]:
    """One :class:`PlatformRender` per platform, in order; never raises for a recipe problem."""
    try:
        recipe = _load(source)
    except RecipeError as err:
        return tuple(PlatformRender(source.rel, p, error=err) for p in platforms)
    out = []
    for platform in platforms:
        try:
            out.append(
                PlatformRender(source.rel, platform, variants=_render_platform(recipe, platform, options))
            )
        except RecipeError as err:
            out.append(PlatformRender(source.rel, platform, error=err))
        except RecursionError:
            out.append(
                PlatformRender(
                    source.rel, platform, error=RecipeError(recipe.path, None, "recursion too deep")
                )
            )
        except Exception as exc:  # a recipe must never stop the others; keep the cause visible
            msg = f"{type(exc).__name__}: {exc}"
            out.append(PlatformRender(source.rel, platform, error=RecipeError(recipe.path, None, msg)))
    return tuple(out)


# --------------------------------------------------------------------------- one platform


@lru_cache(maxsize=64)
def _config_keys(config: VariantConfig) -> frozenset[str]:
    return frozenset(config.values)


@lru_cache(maxsize=65536)
def _used(keys: frozenset[str], text: str, selectors_only: bool, raw: str) -> frozenset[str]:
    """Used keys of ``text`` (a part of the recipe ``raw``, whose candidates bound the search)."""
    return frozenset(used_in_text(keys, text, selectors_only=selectors_only, within=candidates(keys, raw)))


@lru_cache(maxsize=256)
def _base_context(
    config: VariantConfig, platform: str, environ: Variant, build_platform: str | None
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """The first variant, its selector namespace and its template context (shared, read-only)."""
    first = config.first()
    ns = _base_namespace(config, platform, environ, build_platform)
    return first, ns, base_context(ns, first)


@lru_cache(maxsize=256)
def _base_namespace(
    config: VariantConfig, platform: str, environ: Variant, build_platform: str | None
) -> dict:
    """The selector namespace of a config's first variant, shared by every recipe (read-only)."""
    return selector_namespace(platform, config.first(), environ, build_platform)


def _config_files(recipe: _Recipe, options: RenderOptions) -> list[Path]:
    return [*options.exclusive_configs, *recipe.local_configs, *options.variant_configs]


def _render_platform(recipe: _Recipe, platform: str, options: RenderOptions) -> tuple[RenderedRecipe, ...]:
    """All variants for one target platform.

    The ``noarch`` target renders as its build platform (``options.build_platform``, else
    linux-64) and keeps only the noarch outputs, as render_v1 does. A build platform other than
    the target (cross-compiling) is recorded on each RenderedRecipe.
    """
    if platform != "noarch":
        rendered = _render_target(recipe, platform, options)
        cross = options.build_platform if options.build_platform not in (None, platform) else None
        if cross is None:
            return rendered
        return tuple(replace(r, build_platform=cross) for r in rendered)
    target = options.build_platform or DEFAULT_NOARCH_BUILD_PLATFORM
    out = []
    for r in _render_target(recipe, target, options):
        outputs = tuple(o for o in r.outputs if o.noarch)
        if outputs:
            out.append(replace(_with_outputs(r, outputs) if outputs else r, platform="noarch"))
    return tuple(out)


def _render_target(recipe: _Recipe, platform: str, options: RenderOptions) -> tuple[RenderedRecipe, ...]:
    environ = options.environ if isinstance(options.environ, Variant) else Variant(options.environ or {})
    config = combined_config(_config_files(recipe, options), platform, environ)
    keys = _config_keys(config)
    first, _, _ = _base_context(config, platform, environ, options.build_platform)
    first_ns = _base_namespace(config, platform, environ, options.build_platform)
    # the whole recipe's used keys decide the expansion (conda-build's force_global pass)
    selected_raw = select_lines(recipe.raw, first_ns, recipe.path)
    global_used = _used(keys, selected_raw, False, recipe.raw) | _used(keys, recipe.raw, True, recipe.raw)
    first_meta, _ = _render_meta(recipe, config, platform, first, first_ns, environ, options)
    noarch = _noarch(_section(first_meta, "build"))
    variants = expand(config, global_used, noarch_python=noarch is not None)

    results: list[RenderedRecipe] = []
    seen_outputs: set[tuple] = set()
    seen_skips: set[Variant] = set()
    for variant in variants:
        diff = {k: v for k, v in variant.items() if first.get(k) != v}
        ns = namespace_delta(first_ns, first, variant, platform, environ, options.build_platform, diff=diff)
        if not diff:
            meta, record = first_meta, _
        else:
            meta, record = _render_meta(recipe, config, platform, variant, ns, environ, options, diff)
        rendered = _render_variant(recipe, platform, config, keys, variant, ns, meta, record)
        if rendered.skip:
            if rendered.variant not in seen_skips:
                seen_skips.add(rendered.variant)
                results.append(rendered)
            continue
        fresh = []
        for o in rendered.outputs:
            key = (o.name, o.version, o.build_number, o.variant)
            if key not in seen_outputs:
                seen_outputs.add(key)
                fresh.append(o)
        if fresh:
            results.append(_with_outputs(rendered, tuple(fresh)))
    return tuple(results)


def _with_outputs(r: RenderedRecipe, outputs: tuple[RenderedOutput, ...]) -> RenderedRecipe:
    used = {k for o in outputs for k in o.variant}
    return RenderedRecipe(
        recipe=r.recipe,
        format=r.format,
        platform=r.platform,
        variant=Variant({k: v for k, v in r.variant.items() if k in used}),
        outputs=outputs,
        skip=all(o.skip for o in outputs),
        undefined_jinja=r.undefined_jinja,
        build_platform=r.build_platform,
    )


def _render_meta(
    recipe: _Recipe,
    config: VariantConfig,
    platform: str,
    variant: Mapping[str, str],
    ns: dict[str, Any],
    environ: Mapping[str, str],
    options: RenderOptions,
    diff: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], RenderRecord]:
    """Jinja, then selectors, then YAML: the recipe dict for one platform and variant.

    ``diff``: the variant's values that differ from the config's first variant (None: none).
    """
    record = RenderRecord()
    _, _, base = _base_context(config, platform, environ, options.build_platform)
    changed: dict[str, Any] = {}
    if diff:
        changed = {k: ns[k] for k in LANGUAGE_NAMES if k in ns}
        changed.update(diff)
    recipe_dir = str(recipe.source.path)
    ctx = render_context(platform, variant, base, changed, environ, record, recipe_dir=recipe_dir)
    meta = _jinja_selectors_yaml(recipe, ctx, ns, record)
    if "PKG_" in recipe.raw:  # conda-build re-parses until PKG_NAME & co. are known
        pkg_section = _section(meta, "package")
        pkg = {
            "PKG_NAME": str(pkg_section.get("name") or ""),
            "PKG_VERSION": str(pkg_section.get("version") or ""),
            "PKG_BUILDNUM": str(_section(meta, "build").get("number") or 0),
        }
        record = RenderRecord()
        ctx = render_context(
            platform, variant, base, changed, environ, record, recipe_dir=recipe_dir, pkg=pkg
        )
        meta = _jinja_selectors_yaml(recipe, ctx, ns, record)
    return meta, record


def _jinja_selectors_yaml(
    recipe: _Recipe, ctx: Mapping[str, Any], ns: dict[str, Any], record: RenderRecord
) -> dict:
    try:
        text = render_template(recipe.template, ctx, record)
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise RecipeError(recipe.path, line, f"Jinja error: {exc}") from None
    except RecipeError:
        raise
    except Exception as exc:  # errors raised inside recipe expressions (e.g. int('x'))
        raise RecipeError(recipe.path, None, f"Jinja error: {type(exc).__name__}: {exc}") from None
    try:
        return _parse(select_lines(text, ns, recipe.path), recipe.path)
    except RecipeError as err:
        if err.line is None or err.path != recipe.path:
            raise
        # the YAML line counts kept lines only; point at the line of the rendered recipe
        kept = kept_line_numbers(text, ns)
        if 0 < err.line <= len(kept):
            line = kept[err.line - 1]
        else:  # past the last kept line (an error at the end of the text)
            line = (kept[-1] if kept else 0) + err.line - len(kept)
        raise RecipeError(err.path, line, err.message) from None


@lru_cache(maxsize=1024)
def _parse(text: str, path: str) -> dict:
    """YAML of one rendered text. Cached: platforms often render to the same text (noarch
    recipes, linux arches), and the result is never mutated by the caller."""
    data = load_recipe_yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(path, 1, "a meta.yaml must be a mapping")
    return data


# --------------------------------------------------------------------------- one variant


def _section(meta: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = meta.get(name)
    return value if isinstance(value, dict) else {}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "y", "1")
    return bool(value)


def _noarch(build: Mapping[str, Any]) -> str | None:
    value = build.get("noarch")
    if value in (None, False, "", "False", "false"):
        return "python" if _truthy(build.get("noarch_python")) else None
    if value is True:
        return "generic"
    return str(value)


def _spec_list(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    out = []
    for item in value:
        if item is None or isinstance(item, (dict, list)):
            continue
        text = _WS.sub(" ", str(item)).strip()
        if text and text not in ("None", "NoneType"):
            out.append(text)
    return out


def _expand_reqs(value: Any) -> dict[str, list[str]]:
    """conda-build's expand_reqs: a bare list of requirements means host and run."""
    if isinstance(value, dict):
        return {k: _spec_list(v) for k, v in value.items()}
    items = _spec_list(value)
    return {"host": list(items), "run": list(items)} if items else {}


def _pin_variant_versions(reqs: dict[str, list[str]], variant: Mapping[str, str]) -> None:
    """Bare build/host names that are variant keys get the variant's value (``zlib`` -> ``zlib 1.*``)."""
    for env in ("build", "host"):
        specs = reqs.get(env)
        if not specs:
            continue
        for i, spec in enumerate(specs):
            if " " in spec:
                m = _XX.match(spec)
                if m and m.group(1) in variant:
                    specs[i] = f"{m.group(1)} {variant[m.group(1)]}"
                continue
            value = variant.get(spec) if spec in variant else variant.get(spec.replace("-", "_"))
            if value is not None and (spec in variant or spec.replace("-", "_") in variant):
                key = spec if spec in variant else spec.replace("-", "_")
                if key not in SPECIAL_KEYS:
                    specs[i] = star_spec(f"{spec} {value}")


def _render_variant(
    recipe: _Recipe,
    platform: str,
    config: VariantConfig,
    keys: frozenset[str],
    variant: dict[str, str],
    ns: dict[str, Any],
    meta: dict[str, Any],
    record: RenderRecord,
) -> RenderedRecipe:
    package = _section(meta, "package")
    build = _section(meta, "build")
    top_name = str(package.get("name") or "")
    top_version = (
        "None" if "version" in package and package["version"] is None else str(package.get("version", ""))
    )
    top_number = _build_number(build.get("number"), recipe.path)
    undefined = tuple(record.undefined)
    base = RenderedRecipe(
        recipe=recipe.source.rel,
        format=RecipeFormat.V0,
        platform=platform,
        variant=Variant(),
        outputs=(),
        skip=False,
        undefined_jinja=undefined,
    )
    if _truthy(build.get("skip")):
        used = _output_used(
            recipe, keys, variant, ns, config, meta, top_name, None, _expand_reqs(meta.get("requirements"))
        )
        v = Variant({k: variant[k] for k in used if k in variant})
        return RenderedRecipe(base.recipe, base.format, platform, v, (), True, undefined)

    raw_outputs = meta.get("outputs")
    outputs: list[dict[str, Any]] = (
        [o for o in raw_outputs if isinstance(o, dict)] if isinstance(raw_outputs, list) else []
    )
    rendered_names = [str(o.get("name", top_name)) for o in outputs]
    if not outputs:
        outputs = [{"name": top_name}]
    elif _uses_subpackage(meta, outputs, recipe.raw) and top_name not in rendered_names:
        outputs.append({"name": top_name})

    results: list[RenderedOutput] = []
    for out in outputs:
        name = str(out.get("name", top_name))
        if out.get("type") not in (None, "conda", "conda_v2"):
            continue
        is_top = name == top_name
        if is_top:
            reqs = _expand_reqs(out.get("requirements"))
            for k, v in _expand_reqs(meta.get("requirements")).items():
                reqs.setdefault(k, v)
            out_build = dict(build)
            if "build" in out and isinstance(out["build"], dict):
                out_build = {**build, **out["build"]}
            test = _section(out, "test") or _section(meta, "test")
            version, number = top_version, top_number
            noarch = _noarch(out_build)
        else:
            reqs = _expand_reqs(out.get("requirements"))
            self_pat = re.compile(rf"^{re.escape(name)}(?:\s|$)")
            for env in ("build", "host", "run"):
                if env in reqs:
                    reqs[env] = [r for r in reqs[env] if not self_pat.match(r)]
            version = str(out["version"]) if out.get("version") not in (None, "") else top_version
            if isinstance(out.get("build"), dict):
                out_build = dict(out["build"])
                if "number" not in out_build:
                    out_build["number"] = out.get("number", top_number)
            else:
                out_build = dict(build)
                if "number" in out:
                    out_build["number"] = out["number"]
                out_build.pop("noarch", None)
                if out.get("noarch"):
                    out_build["noarch"] = out["noarch"]
            number = _build_number(out_build.get("number"), recipe.path)
            test = _section(out, "test") if "test" in out else _section(meta, "test")
            noarch = _noarch(out_build)
        _pin_variant_versions(reqs, variant)
        index = rendered_names.index(name) if name in rendered_names else None
        used = _output_used(recipe, keys, variant, ns, config, meta, name if not is_top else top_name,
                            None if is_top else index, reqs, is_top_name_index=index if is_top else None,
                            noarch=noarch, build=out_build)  # fmt: skip
        extra = _section(out, "extra") or _section(meta, "extra")
        test_on = extra.get("test_on")
        results.append(
            RenderedOutput(
                name=name,
                version=version,
                build_number=number,
                requirements=Requirements(**{p: tuple(reqs.get(p, ())) for p in PHASES}),
                test_requires=tuple(_spec_list(test.get("requires"))),
                noarch=noarch,
                skip=_truthy(out_build.get("skip")),
                variant=Variant({k: variant[k] for k in used if k in variant}),
                undefined_jinja=undefined,
                test_on=str(test_on) if test_on else None,
            )
        )
    union = {k for o in results for k in o.variant}
    return RenderedRecipe(
        recipe=base.recipe,
        format=RecipeFormat.V0,
        platform=platform,
        variant=Variant({k: variant[k] for k in union if k in variant}),
        outputs=tuple(results),
        skip=bool(results) and all(o.skip for o in results),
        undefined_jinja=undefined,
    )


def _build_number(value: Any, path: str) -> int:
    if value in (None, "", False):
        return 0
    try:
        return int(str(value).strip())
    except ValueError:
        raise RecipeError(path, None, f"build number {value!r} is not an integer") from None


def _uses_subpackage(meta: Mapping[str, Any], outputs: list[dict[str, Any]], raw: str) -> bool:
    """conda-build adds a metapackage for the recipe name when its run requirements name an output."""
    run = _expand_reqs(meta.get("requirements")).get("run", [])
    for out in outputs:
        name = out.get("name")
        if name and any(re.match(rf"^{re.escape(str(name))}(\s|$)", r) for r in run):
            return True
    m = re.search(r"(^requirements:.*?)(?=^test:|^extra:|^about:|^outputs:|\Z)", raw, re.M | re.S)
    return bool(m and re.search(r"{{\s*pin_subpackage\(.*\)\s*}}", m.group(1)))


def _output_used(
    recipe: _Recipe,
    keys: frozenset[str],
    variant: Mapping[str, str],
    ns: dict[str, Any],
    config: VariantConfig,
    meta: Mapping[str, Any],
    name: str,
    index: int | None,
    reqs: Mapping[str, list[str]],
    *,
    is_top_name_index: int | None = None,
    noarch: str | None = None,
    build: Mapping[str, Any] | None = None,
) -> set[str]:
    """The variant keys one output uses (conda-build's get_used_vars for that output)."""
    raw = recipe.raw
    selected = select_lines(raw, ns, recipe.path)
    texts = []
    for text in (raw, selected):
        outs = outputs_text(text)
        chunks = output_chunks(outs) if outs else []
        if index is not None:  # an output with its own name: its chunk only
            texts.append(chunks[index] if index < len(chunks) else "")
        else:
            top = text.replace(outs.strip(), "") if outs.strip() else text
            if is_top_name_index is not None and is_top_name_index < len(chunks):
                top += chunks[is_top_name_index]
            elif outs.strip():
                top += name
            texts.append(top.rstrip())
    unselected, selected_text = texts
    all_used = set(_used(keys, unselected, True, raw)) | set(_used(keys, selected_text, False, raw))
    m = REQUIREMENTS_TEXT.search(selected_text)
    reqs_used = set(_used(keys, m.group(0), False, raw)) if m else set()
    ignore = config.values.get("ignore_build_only_deps") or ()
    trimmed = trim_build_only(
        reqs_used, reqs.get("build", ()), reqs.get("host", ()), reqs.get("run", ()), ignore
    )
    used = (all_used - reqs_used) | trimmed
    build = build if build is not None else _section(meta, "build")
    if "target_platform" in variant and not noarch:
        used.add("target_platform")
    if "channel_targets" in variant:
        used.add("channel_targets")
    force_use = _spec_list(build.get("force_use_keys"))
    force_ignore = _spec_list(build.get("force_ignore_keys"))
    if force_use or force_ignore:
        used = (used - set(force_ignore)) | set(force_use)
    return {k for k in used if k not in SPECIAL_KEYS}
