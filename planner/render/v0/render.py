"""Render a conda-build meta.yaml (v0) for each target platform and variant, as conda-build does.

Per platform:

1. merge the variant configs (exclusive configs, the recipe-local conda_build_config.yaml, then
   ``--variant-config`` files) -> :class:`planner.render.variants.VariantConfig`;
2. find the keys the whole recipe uses (:mod:`planner.render.v0.used`) and expand over them only
   (a noarch recipe takes the newest python instead of every python);
3. per variant: apply line selectors to the raw text (conda-build's template loader does), render
   it with Jinja (compiled once per distinct selected text), apply selectors again to the rendered
   text, read YAML (:mod:`planner.render.v0.yaml`);
4. per output (:mod:`planner.render.v0.outputs`): its requirements (top-level ones for the output named
   like the recipe), variant pins on bare build/host names (``python`` ->
   ``python 3.12.* *_cpython``), the keys it uses, skip, noarch, test requirements, build string;
5. drop outputs already produced by an earlier variant with the same used values (conda-build
   renders them once).

The ``noarch`` target renders as its build platform and keeps the noarch outputs. A problem on
one platform becomes that platform's ``PlatformRender.error``; the others go on. The rules, with
conda-build as the reference, are in docs/recipe-semantics.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from planner.model import (
    PlatformRender,
    RecipeError,
    RecipeSource,
    RenderedOutput,
    RenderedRecipe,
    RenderOptions,
    Variant,
)
from planner.platforms import DEFAULT_NOARCH_BUILD_PLATFORM
from planner.render.selectors import (
    LANGUAGE_NAMES,
    assemble_selected,
    kept_line_numbers,
    namespace_delta,
    select_lines,
    selector_namespace,
    selector_values,
)
from planner.render.v0.jinja_env import (
    RenderRecord,
    base_context,
    compile_template,
    render_context,
    render_template,
)
from planner.render.v0.outputs import (
    RecipeText,
    interned_variant,
    noarch_of,
    render_variant,
    script_used,
    section,
    used_keys,
)
from planner.render.v0.template import recipe_template
from planner.render.v0.yaml import load_recipe_yaml
from planner.render.variants import VariantConfig, combined_config, expand


def _load(source: RecipeSource) -> RecipeText:
    path = str(source.recipe_file)
    try:
        raw = source.recipe_file.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise RecipeError(path, None, f"cannot read recipe: {exc.strerror}") from None
    if "\x00" in raw:  # a binary file: say where, never echo its bytes
        raise RecipeError(path, raw.count("\n", 0, raw.index("\x00")) + 1, "binary content (NUL byte)")
    local = tuple(p for p in source.local_configs if p.name == "conda_build_config.yaml")
    if not local:
        candidate = source.path / "conda_build_config.yaml"
        if candidate.is_file():
            local = (candidate,)
    return RecipeText(source, path, raw, local)


def render_v0(
    source: RecipeSource, platforms: Sequence[str], options: RenderOptions
) -> tuple[PlatformRender, ...]:
    """One :class:`PlatformRender` per platform, in order; never raises for a recipe problem."""
    try:
        recipe = _load(source)
    except RecipeError as err:
        return tuple(PlatformRender(source.rel, p, error=err) for p in platforms)
    configs = _platform_configs(recipe, platforms, options)
    if configs is not None:
        recipe = replace(recipe, configs=configs, key_universe=_union_keys(tuple(configs.values())))
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


def _platform_configs(
    recipe: RecipeText, platforms: Sequence[str], options: RenderOptions
) -> dict[str, VariantConfig] | None:
    """The merged config of every target platform, read once per recipe (the used-key scans run
    against the union of their keys); None when one cannot be read: each platform then reports the
    problem itself, as before."""
    environ = options.environ if isinstance(options.environ, Variant) else Variant(options.environ or {})
    files = _config_files(recipe, options)
    targets = {
        (options.build_platform or DEFAULT_NOARCH_BUILD_PLATFORM) if p == "noarch" else p for p in platforms
    }
    try:
        return {p: combined_config(files, p, environ) for p in sorted(targets)}
    except Exception:  # each platform meets and reports the same problem itself
        return None


@lru_cache(maxsize=64)
def _union_keys(configs: tuple[VariantConfig, ...]) -> frozenset[str]:
    return frozenset().union(*(_config_keys(c) for c in configs))


def _config_files(recipe: RecipeText, options: RenderOptions) -> list[Path]:
    return [*options.exclusive_configs, *recipe.local_configs, *options.variant_configs]


def _render_platform(recipe: RecipeText, platform: str, options: RenderOptions) -> tuple[RenderedRecipe, ...]:
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


def _render_target(recipe: RecipeText, platform: str, options: RenderOptions) -> tuple[RenderedRecipe, ...]:
    environ = options.environ if isinstance(options.environ, Variant) else Variant(options.environ or {})
    config = (recipe.configs or {}).get(platform) or combined_config(
        _config_files(recipe, options), platform, environ
    )
    keys = _config_keys(config)
    first, _, _ = _base_context(config, platform, environ, options.build_platform)
    first_ns = _base_namespace(config, platform, environ, options.build_platform)
    # the whole recipe's used keys decide the expansion (conda-build's force_global pass)
    selected_raw = select_lines(recipe.raw, first_ns, recipe.path)
    universe = recipe.key_universe
    global_used = (
        used_keys(keys, selected_raw, False, recipe.raw, universe)
        | used_keys(keys, recipe.raw, True, recipe.raw, universe)
        | script_used(recipe, keys, bool(first_ns.get("win")), None, False)
    )
    first_meta, _ = _render_meta(recipe, config, platform, first, first_ns, environ, options)
    noarch = noarch_of(section(first_meta, "build"))
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
        rendered = render_variant(recipe, platform, config, keys, variant, ns, meta, record)
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
        variant=interned_variant({k: v for k, v in r.variant.items() if k in used}),
        outputs=outputs,
        skip=all(o.skip for o in outputs),
        undefined_jinja=r.undefined_jinja,
        build_platform=r.build_platform,
    )


def _render_meta(
    recipe: RecipeText,
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
        pkg_section = section(meta, "package")
        pkg = {
            "PKG_NAME": str(pkg_section.get("name") or ""),
            "PKG_VERSION": str(pkg_section.get("version") or ""),
            "PKG_BUILDNUM": str(section(meta, "build").get("number") or 0),
        }
        record = RenderRecord()
        ctx = render_context(
            platform, variant, base, changed, environ, record, recipe_dir=recipe_dir, pkg=pkg
        )
        meta = _jinja_selectors_yaml(recipe, ctx, ns, record)
    return meta, record


def _map_line(line: int | None, text: str, ns: dict[str, Any]) -> int | None:
    """A line of ``select_lines(text)`` as the line of ``text`` it came from."""
    if line is None:
        return None
    kept = kept_line_numbers(text, ns)
    if 0 < line <= len(kept):
        return kept[line - 1]
    return (kept[-1] if kept else 0) + line - len(kept)  # past the last kept line: the end


def _jinja_selectors_yaml(
    recipe: RecipeText, ctx: Mapping[str, Any], ns: dict[str, Any], record: RenderRecord
) -> dict:
    """conda-build's order: selectors on the raw text (its template loader filters the source),
    then Jinja, then selectors again on the rendered text, then YAML. Error lines point at the
    recipe's lines (through the Jinja output, which keeps the source's lines but for multi-line
    blocks)."""
    values = selector_values(recipe.raw, ns, recipe.path)  # a broken selector raises here, located
    text = _render_combined(recipe, values, ctx, record)
    if text is None:
        text = _render_selected(recipe, values, ctx, ns, record)
    try:
        return _parse(select_lines(text, ns, recipe.path), recipe.path)
    except RecipeError as err:
        if err.line is None or err.path != recipe.path:
            raise
        # YAML line -> line of the Jinja output -> (about) the same line of the selected source
        # -> line of the recipe
        line = _map_line(_map_line(err.line, text, ns), recipe.raw, ns)
        raise RecipeError(err.path, line, err.message) from None


def _render_combined(
    recipe: RecipeText, values: dict[str, bool], ctx: Mapping[str, Any], record: RenderRecord
) -> str | None:
    """The rendered text through the recipe's one combined template (:mod:`planner.render.v0.template`);
    None when the recipe has none or Jinja fails (the per-text path then gives the located error)."""
    combined = recipe_template(recipe.raw)
    if combined is None:
        return None
    try:
        return render_template(combined.template, combined.context(values, ctx), record)
    except Exception:
        record.undefined.clear()
        record.loaders.clear()
        return None


def _render_selected(
    recipe: RecipeText,
    values: dict[str, bool],
    ctx: Mapping[str, Any],
    ns: dict[str, Any],
    record: RenderRecord,
) -> str:
    """Jinja on the selected text, its template compiled once per distinct selection."""
    source = assemble_selected(recipe.raw, values)
    try:
        template = compile_template(source)
        text = render_template(template, ctx, record)
    except jinja2.TemplateSyntaxError as exc:
        line = _map_line(exc.lineno, recipe.raw, ns)
        raise RecipeError(recipe.path, line, f"Jinja syntax error: {exc.message}") from None
    except jinja2.TemplateError as exc:
        line = _map_line(getattr(exc, "lineno", None), recipe.raw, ns)
        raise RecipeError(recipe.path, line, f"Jinja error: {exc}") from None
    except RecipeError:
        raise
    except Exception as exc:  # errors raised inside recipe expressions (e.g. int('x'))
        raise RecipeError(recipe.path, None, f"Jinja error: {type(exc).__name__}: {exc}") from None
    return text


@lru_cache(maxsize=512)
def _parse(text: str, path: str) -> dict:
    """YAML of one rendered text. Cached: platforms often render to the same text (noarch
    recipes, linux arches), and the result is never mutated by the caller."""
    data = load_recipe_yaml(text, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(path, 1, "a meta.yaml must be a mapping")
    return data
