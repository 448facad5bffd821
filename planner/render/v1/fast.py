"""The fast path of the v1 renderer: one parsed variant config per (files, platform), reused.

``rattler_build.cli_api.build_recipes(render_only=True)`` (what ``planner.render.v1.render`` trusts)
re-reads every variant file on every call: ~30 ms for the conda-forge pinning, ~95% of a v1 render.
Here the :class:`rattler_build.VariantConfig` is built once per (files, target, build platform,
environment) and the recipe goes through ``Stage0Recipe.render``, which gives the same items with two
gaps that are filled here: it does not apply ``build.skip`` and it repeats an output that does not
depend on the variant once per variant. ``tests/test_render_properties.py`` holds both paths equal
over generated recipes; anything this path cannot answer raises, and the caller falls back to
``build_recipes``. Figures: docs/robustness.md ("v1 render speed").
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from pathlib import Path
from typing import Any

from planner.model import RecipeSource
from planner.render.environ import process_environ


def render_fast(
    source: RecipeSource, target: str, build_platform: str, configs: list[str], environ: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The same items as ``planner.render.v1.render._render_only``, an order of magnitude faster with a big
    pinning (see docs/robustness.md).

    ``build_recipes`` re-reads every variant file on every call (~30 ms for the conda-forge
    pinning); here the :class:`VariantConfig` is built once per (files, platforms) and reused, and the
    recipe goes through ``Stage0Recipe.render``. That API neither applies ``build.skip`` nor drops the
    copies of an output that does not depend on the variant, so both are done here: each skip list
    is rendered by rattler-build itself, as a Jinja expression appended to the output's
    ``about.summary`` (:data:`_SKIP_MARK`), and identical items are dropped. The recipe-local
    variant files come first, as ``build_recipes`` reads them (the given files override them).
    """
    from rattler_build import RenderConfig

    # build_recipes reads the recipe-local files FIRST: the given files override them (measured)
    files = (*(str(p) for p in source.local_configs), *configs)
    env = tuple(sorted(environ.items()))
    variant_config, platform_config = _variant_config(_file_keys(files), target, build_platform, env)
    recipe, skips = _skip_aware_recipe(source.recipe_file)
    # the process environment is the declared one here: render_v1 / render_many swapped it in
    rendered = recipe.render(variant_config, RenderConfig(platform=platform_config))
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in rendered:
        data = item.recipe.to_dict()
        if skips:
            about = data.get("about") or {}
            summary = str(about.get("summary") or "")
            summary, _, skip = summary.rpartition(_SKIP_MARK)
            if not _:
                raise RuntimeError("skip marker lost")  # unexpected shape: let build_recipes answer
            if skip.strip() == "true":
                continue
            if summary:
                about["summary"] = summary
            else:
                about.pop("summary", None)
            if not about:
                data.pop("about", None)
        entry = {"recipe": data, "build_configuration": {"variant": dict(item.variant)}}
        key = json.dumps(entry, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out


#: Separates a recipe's own summary from the rendered skip condition (see :func:`render_fast`).
_SKIP_MARK = "\x1fstackplan-skip="


def _file_keys(files: Sequence[str]) -> tuple[tuple[str, float, int], ...]:
    """Each variant file with its mtime and size: an edited file is read again."""
    keys = []
    for f in files:
        st = os.stat(f)
        keys.append((f, st.st_mtime, st.st_size))
    return tuple(keys)


@lru_cache(maxsize=64)
def _variant_config(
    files: tuple[tuple[str, float, int], ...],
    target: str,
    build_platform: str,
    environ: tuple[tuple[str, str], ...],
) -> tuple:
    """The parsed variant files for one target (the expensive part of a render, so cached); the
    environment is part of the key (a config's selectors may read it)."""
    from rattler_build import JinjaConfig, PlatformConfig, VariantConfig

    pc = PlatformConfig(target_platform=target, build_platform=build_platform)
    paths = [f for f, _, _ in files]
    with _environ(dict(environ)):
        vc = (
            VariantConfig.from_files_with_context(paths, JinjaConfig(platform=pc))
            if paths
            else VariantConfig()
        )
    return vc, pc


def _skip_aware_recipe(path: Path) -> tuple[Any, bool]:
    """The parsed recipe; when it has ``build.skip`` conditions, a copy whose ``about.summary`` also
    renders them (``Stage0Recipe.render`` evaluates but does not apply them)."""
    from rattler_build import Stage0Recipe

    recipe = Stage0Recipe.from_file(path)
    data = recipe.to_dict()
    sections = [data, *(o for o in data.get("outputs") or () if isinstance(o, dict))]
    if not any(((s.get("build") or {}).get("skip")) for s in sections):
        return recipe, False
    if any((s.get("build") or {}).get("noarch") for s in sections):
        # rattler-build evaluates a noarch output's skip against variant values that its render
        # does not show (python of a noarch: python output): only build_recipes knows the answer.
        raise RuntimeError("skip on a noarch recipe")
    top = _skip_exprs(data)
    if "outputs" not in data:
        _mark(data, top)
    inherited = (data.get("about") or {}).get("summary") if isinstance(data.get("about"), dict) else None
    for output in sections[1:]:  # an output is skipped by the recipe's conditions or its own
        _mark(output, [*top, *_skip_exprs(output)], inherited)
    marked = _from_dict(data, path)
    if marked.to_dict() != data:  # the round trip lost something: do not guess
        raise RuntimeError("recipe does not survive to_dict/from_dict")
    return marked, True


def _skip_exprs(section: dict[str, Any]) -> list[str]:
    conditions = (section.get("build") or {}).get("skip") or []
    if isinstance(conditions, (str, bool)):
        conditions = [conditions]
    exprs = []
    for c in conditions:
        if isinstance(c, bool):
            exprs.append("true" if c else "false")
        elif isinstance(c, str):
            exprs.append(f"({c})")
        else:  # an if/then inside the skip list: rare, let build_recipes answer
            raise RuntimeError("conditional skip list")
    return exprs


def _mark(section: dict[str, Any], exprs: list[str], inherited: str | None = None) -> None:
    """Append the rendered skip condition to the section's summary (an output's own summary, else
    the one it inherits from the recipe)."""
    about = section.get("about")
    if not isinstance(about, dict):
        about = section["about"] = {}
    expr = " or ".join(exprs) if exprs else "false"
    about["summary"] = f"{about.get('summary') or inherited or ''}{_SKIP_MARK}${{{{ {expr} }}}}"


def _from_dict(data: dict[str, Any], path: Path) -> Any:
    """``Stage0Recipe.from_dict`` without the temp dir it writes: the recipe keeps its own path (for
    relative ``include()`` / ``file_name()``)."""
    from rattler_build import stage0

    wrapper = stage0._stage0.Stage0Recipe.from_dict(data)
    if wrapper.is_single_output():
        return stage0.SingleOutputRecipe(wrapper.as_single_output(), wrapper, Path(path).resolve())
    return stage0.MultiOutputRecipe(wrapper.as_multi_output(), wrapper, Path(path).resolve())


def _environ(environ: Mapping[str, str]) -> AbstractContextManager[None]:
    """The process environment is exactly the render environment around a py-rattler-build call:
    its Jinja ``env.get`` reads the process environment (``planner.render.environ``)."""
    return process_environ(environ)
