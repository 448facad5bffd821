"""The outputs of one rendered meta.yaml variant, as conda-build assembles them.

Given the recipe dict for one platform and variant (Jinja, selectors and YAML already applied by
:mod:`planner.render.v0.render`), this module builds each output: its requirements (the top-level ones
for the output named like the recipe), the variant pins on bare build/host names, the variant keys
it uses (:mod:`planner.render.v0.used`), skip, noarch, test requirements and conda-build's build string
(:mod:`planner.render.v0.build_string`). See docs/recipe-semantics.md for the rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from planner.matchspec import ensure_valid_spec
from planner.model import (
    PHASES,
    RecipeError,
    RecipeFormat,
    RecipeSource,
    RenderedOutput,
    RenderedRecipe,
    Requirements,
    Variant,
)
from planner.render.selectors import select_lines
from planner.render.v0.build_string import build_string
from planner.render.v0.jinja_env import RenderRecord
from planner.render.v0.used import (
    REQUIREMENTS_TEXT,
    candidates,
    output_chunks,
    outputs_text,
    trim_build_only,
    used_in_batch_script,
    used_in_shell_script,
    used_in_text,
)
from planner.render.variants import SPECIAL_KEYS, VariantConfig

_WS = re.compile(r"\s+")
_XX = re.compile(r"([0-9a-zA-Z.\-_]+)\s+x\.x")


@dataclass(frozen=True)
class RecipeText:
    """What stays the same across platforms: the text and where it lives."""

    source: RecipeSource
    path: str
    raw: str
    local_configs: tuple[Path, ...]
    #: The merged variant config per target platform, read once per render call (None: per platform).
    configs: Mapping[str, VariantConfig] | None = None
    #: The variant keys of every platform this recipe renders for (see ``used_keys``); None: unknown.
    key_universe: frozenset[str] | None = None
    #: What ``script_used`` found, per scan, for this render call: the build scripts are read and
    #: scanned once per recipe, not once per platform and output (the files cannot change meanwhile).
    script_scans: dict[tuple[Any, ...], frozenset[str]] = field(
        default_factory=dict, compare=False, repr=False
    )


def interned_variant(values: Mapping[str, Any]) -> Variant:
    """``Variant(values)``, one object per distinct content in this process.

    Thousands of outputs carry the same few variants (``c_compiler``, ``target_platform``...); as
    one object each, a chunk of renders pickles each variant once, and the caller of a render pool
    rebuilds each once when it unpickles (rebuilding them was most of the unpickling). Variants
    are immutable, so sharing one is invisible.
    """
    return _interned(tuple(sorted((str(k), str(v)) for k, v in values.items())))


@lru_cache(maxsize=4096)
def _interned(items: tuple[tuple[str, str], ...]) -> Variant:
    return Variant(dict(items))


_SYSROOT_BRINGERS = frozenset({"c_compiler", "cxx_compiler"})


def used_keys(
    keys: frozenset[str], text: str, selectors_only: bool, raw: str, universe: frozenset[str] | None = None
) -> frozenset[str]:
    """Used keys of ``text`` (a part of the recipe ``raw``, whose candidates bound the search).

    ``universe``: a superset of ``keys`` (the keys of every platform the recipe renders for). The
    scan then runs once per text against the universe and each platform takes its own keys from
    the result: each key is judged on its own (see ``used_in_text(sysroot=False)``), so this equals
    the scan against ``keys``; conda-build's ``CONDA_BUILD_SYSROOT`` rule is applied after, per
    platform. Platforms' configs differ in a few keys, so a scan per ``keys`` repeated per platform.
    """
    if universe is not None and _is_subset(keys, universe):
        found = _matched(universe, text, selectors_only, raw) & keys
    else:
        found = _matched(keys, text, selectors_only, raw)
    if "CONDA_BUILD_SYSROOT" in keys and not found.isdisjoint(_SYSROOT_BRINGERS):
        found = found | {"CONDA_BUILD_SYSROOT"}
    return found


@lru_cache(maxsize=4096)  # a recipe's texts; bounded: the keys hold whole texts
def _matched(keys: frozenset[str], text: str, selectors_only: bool, raw: str) -> frozenset[str]:
    within = candidates(keys, raw)
    return frozenset(used_in_text(keys, text, selectors_only=selectors_only, within=within, sysroot=False))


@lru_cache(maxsize=256)
def _is_subset(keys: frozenset[str], universe: frozenset[str]) -> bool:
    return keys <= universe


# --------------------------------------------------------------------------- one variant


def section(meta: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = meta.get(name)
    return value if isinstance(value, dict) else {}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "on", "y", "1")
    return bool(value)


def noarch_of(build: Mapping[str, Any]) -> str | None:
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
                    specs[i] = ensure_valid_spec(f"{spec} {value}")


def render_variant(
    recipe: RecipeText,
    platform: str,
    config: VariantConfig,
    keys: frozenset[str],
    variant: dict[str, str],
    ns: dict[str, Any],
    meta: dict[str, Any],
    record: RenderRecord,
) -> RenderedRecipe:
    package = section(meta, "package")
    build = section(meta, "build")
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
        used, _ = _output_used(
            recipe, keys, variant, ns, config, meta, top_name, None, _expand_reqs(meta.get("requirements"))
        )
        v = interned_variant({k: variant[k] for k in used if k in variant})
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
            test = section(out, "test") or section(meta, "test")
            version, number = top_version, top_number
            noarch = noarch_of(out_build)
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
            test = section(out, "test") if "test" in out else section(meta, "test")
            noarch = noarch_of(out_build)
        _pin_variant_versions(reqs, variant)
        index = rendered_names.index(name) if name in rendered_names else None
        used, reqs_text = _output_used(
            recipe, keys, variant, ns, config, meta, top_name if is_top else name, None if is_top else index,
            reqs, is_top_name_index=index if is_top else None, noarch=noarch, build=out_build,
            script=out.get("script"),
        )  # fmt: skip
        used_values = {k: variant[k] for k in used if k in variant}
        bstring = build_string(
            requirements=reqs,
            has_host_section="host" in reqs,
            variant=variant,
            used=used_values,
            noarch=noarch,
            build_number=number,
            build=out_build,
            requirements_text=reqs_text,
            raw_text=recipe.raw,
            ignore_version=config.values.get("ignore_version") or (),
        )
        extra = section(out, "extra") or section(meta, "extra")
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
                build_string=bstring,
                variant=interned_variant(used_values),
                undefined_jinja=undefined,
                test_on=str(test_on) if test_on else None,
            )
        )
    union = {k for o in results for k in o.variant}
    return RenderedRecipe(
        recipe=base.recipe,
        format=RecipeFormat.V0,
        platform=platform,
        variant=interned_variant({k: variant[k] for k in union if k in variant}),
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


@lru_cache(maxsize=1024)
def _output_texts(
    raw: str, selected: str, name: str, index: int | None, is_top_name_index: int | None
) -> tuple[str, str, str]:
    """The texts whose used keys make an output's: its part of the raw recipe (for selectors), its
    part of the selected recipe, and the requirements section of the latter (or ''). Cached: the
    same output of the same selection comes back for every variant and for several platforms."""
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
    m = REQUIREMENTS_TEXT.search(selected_text)
    return unselected, selected_text, m.group(0) if m else ""


def script_used(recipe: RecipeText, keys: frozenset[str], win: bool, script: Any, explicit: bool) -> set[str]:
    """Keys the build scripts use, as conda-build adds them to a recipe's used variables.

    The recipe itself (and its implicit output): ``build.sh`` on every platform, ``bld.bat`` only
    for Windows targets. An explicit ``outputs:`` entry: its own ``script:`` when that is a ``.sh``
    or ``.bat`` file (conda-build reads no other kind, and not the recipe's build.sh for it).

    Each key is judged on its own, so a scan against the recipe's key universe (a superset of
    ``keys``) is done once per recipe and each platform takes its keys from it (as ``used_keys``).
    """
    if explicit and (not isinstance(script, str) or not script.endswith((".sh", ".bat"))):
        return set()
    universe = recipe.key_universe
    scan = universe if universe is not None and _is_subset(keys, universe) else keys
    memo = (scan, win, script if explicit else None)
    found = recipe.script_scans.get(memo)
    if found is None:
        found = frozenset(_scan_scripts(recipe, scan, win, script if explicit else None))
        recipe.script_scans[memo] = found
    return set(found) if scan is keys else set(found & keys)


def _scan_scripts(recipe: RecipeText, keys: frozenset[str], win: bool, script: str | None) -> set[str]:
    """``script_used`` without the memo: read and scan the scripts (``script``: an output's own)."""
    if script is not None:
        text = _read_script(str(recipe.source.path / script))
        if text is None:
            return set()
        return (
            used_in_shell_script(keys, text) if script.endswith(".sh") else used_in_batch_script(keys, text)
        )
    found = set()
    sh = _read_script(str(recipe.source.path / "build.sh"))
    if sh is not None:
        found |= used_in_shell_script(keys, sh)
    if win:
        bat = _read_script(str(recipe.source.path / "bld.bat"))
        if bat is not None:
            found |= used_in_batch_script(keys, bat)
    return found


def _read_script(path: str) -> str | None:
    """A build script's text (None when absent or unreadable: the corpus has meta.yaml only)."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return _read_script_cached(path, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=1024)
def _read_script_cached(path: str, mtime_ns: int, size: int) -> str | None:
    try:
        return Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None


def _output_used(
    recipe: RecipeText,
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
    script: Any = None,
) -> tuple[set[str], str]:
    """The variant keys one output uses (conda-build's get_used_vars for that output), and the
    text of its requirements section (for the build string's numpy rules)."""
    raw = recipe.raw
    selected = select_lines(raw, ns, recipe.path)
    unselected, selected_text, reqs_text = _output_texts(raw, selected, name, index, is_top_name_index)
    universe = recipe.key_universe
    all_used = set(used_keys(keys, unselected, True, raw, universe)) | set(
        used_keys(keys, selected_text, False, raw, universe)
    )
    reqs_used = set(used_keys(keys, reqs_text, False, raw, universe)) if reqs_text else set()
    ignore = config.values.get("ignore_build_only_deps") or ()
    trimmed = trim_build_only(
        reqs_used, reqs.get("build", ()), reqs.get("host", ()), reqs.get("run", ()), ignore
    )
    used = (all_used - reqs_used) | trimmed
    explicit = index is not None or is_top_name_index is not None
    used |= script_used(recipe, keys, bool(ns.get("win")), script if explicit else None, explicit)
    build = build if build is not None else section(meta, "build")
    if "target_platform" in variant and not noarch:
        used.add("target_platform")
    if "channel_targets" in variant:
        used.add("channel_targets")
    force_use = _spec_list(build.get("force_use_keys"))
    force_ignore = _spec_list(build.get("force_ignore_keys"))
    if force_use or force_ignore:
        used = (used - set(force_ignore)) | set(force_use)
    return {k for k in used if k not in SPECIAL_KEYS}, reqs_text
