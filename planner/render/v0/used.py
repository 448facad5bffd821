"""Which variant keys a meta.yaml *uses*: the keys its variants expand over and its jobs carry.

conda-build decides this by scanning the raw recipe text (before Jinja) line by line
(``find_used_variables_in_text``); a key counts as used when a line has

* ``{{ key }}`` or ``{{ key ... }}`` or ``{{ pin_xxx('key' ...) }}`` (a Jinja reference),
* ``- key`` alone as a requirement (``-`` and ``_`` interchangeable, optional selector/comment),
* ``{% if ... key ... %}`` (a Jinja condition),
* ``[... key ...]`` in a selector (counted on the text *before* selectors are applied),
* ``{{ compiler('lang') }}`` for ``lang_compiler`` / ``lang_compiler_version`` (and ``stdlib``
  likewise); ``c_compiler`` / ``cxx_compiler`` also bring ``CONDA_BUILD_SYSROOT``.

Then, per output: keys used only as a bare run requirement are dropped, and keys listed in
``ignore_build_only_deps`` (python, numpy) that appear in build but not host are dropped;
``target_platform`` is added unless noarch, ``channel_targets`` always when configured;
``build.force_use_keys`` / ``force_ignore_keys`` have the last word.

Scanning every one of ~600 pinning keys against every line is the slow part of conda-build's
render; we first collect the few keys that can possibly match (word prefixes, words inside
``{% if %}`` lines, compiler languages) and run the exact patterns on those only.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z0-9_]+")
_SET_LINE = re.compile(r"\{%-?\s*set\s+\w+\s*=")
_FOR_LINE = re.compile(r"\{%-?\s*for\s.*\sin\s")
_IF_LINE = re.compile(r"\{%-?\s*(?:el)?if\b")
_LANG_CALL = re.compile(r"\b(compiler|stdlib)\(\s*['\"]([^'\"]+)['\"]")
_COMPILER_KEY = re.compile(r"(.*?)_(compiler|stdlib)(_version)?$")

#: conda-build's regexes that find an output's text and an output chunk.
OUTPUTS_SECTION = re.compile(r"(^outputs:.*?)(?=^test:|^extra:|^about:|\Z)", re.M | re.S)
OUTPUT_CHUNK = re.compile(r"^\ +-\ +(?:name|type):.+?(?=^\w|\Z|^\ +-\ +(?:name|type))", re.M | re.S)
REQUIREMENTS_TEXT = re.compile(r"requirements:.+?(?=^\w|\Z|^\s+-\s(?=name|type))", re.M | re.S)


@lru_cache(maxsize=4096)
def _patterns(key: str, selectors_only: bool) -> re.Pattern[str]:
    k = re.escape(key)
    selector = rf"^[^#\[]*?\#?\s\[[^\]]*?(?<![_\w\d]){k}[=\s<>!\]]"
    if selectors_only:
        return re.compile(selector)
    parts = []
    m = _COMPILER_KEY.match(key)
    if m:
        parts.append(r"\{\s*" + m.group(2) + r"\([\'\"]" + re.escape(m.group(1)) + r"[\"\'][^\{]*?\}")
    req = "[-_]".join(map(re.escape, key.split("_")))
    if key in ("cdt_name", "cdt_arch"):
        parts.append(r"\{\s*cdt\(")
    # ``{{ key }}``, ``{{ key|lower }}``, ``{{ pin_compatible('key') }}``: the key as a whole word
    # (conda-build >= 24.11: ``{{ python_min }}`` uses python_min, not python)
    parts.append(r"\{\{\s*(?:pin_[a-z]+\(\s*?['\"])?" + k + r"(?![a-zA-Z0-9_])[^}]*?\}\}")
    parts.append(r"^\s+\-\s+" + req + r"\s*(?:\s[\[#]|$)")
    parts.append(r"(?:^|[^\{])\{%\s*(?:el)?if\s*.*" + k + r"\s*(?:[^%]*?)?%\}")
    # single-line ``{% set x = ... key ... %}`` and ``{% for x in key %}`` (conda-build >= 24.7)
    parts.append(r"\{%-?\s*set\s+\w+\s*=[^%]*?(?<![a-zA-Z0-9_])" + k + r"(?![a-zA-Z0-9_])[^%]*%\}")
    parts.append(r"(?:^|[^\{])\{%-?\s*for\s*.*\s*in\s*" + k + r"(?![a-zA-Z0-9_])(?:[^%]*?)?%\}")
    return re.compile("|".join(parts))


@lru_cache(maxsize=64)
def _prefixes(keys: frozenset[str]) -> frozenset[str]:
    """Every prefix of every key: lets the word scan stop at the first character that no key has."""
    return frozenset(k[:i] for k in keys for i in range(1, len(k) + 1))


@lru_cache(maxsize=2048)
def candidates(keys: frozenset[str], text: str) -> frozenset[str]:
    """Keys that could match any pattern in ``text`` (a superset; cheap to compute).

    A key can only match at the start of a word (``{{ key``, ``- key``, ``[... key``), inside a
    ``{% if %}`` line, or as a compiler/stdlib/cdt call. Cached per text: callers pass the raw
    recipe, whose candidates cover every selected or per-output part of it.
    """
    found: set[str] = set()
    prefixes = _prefixes(keys)
    normalized = text.replace("-", "_")
    for w in set(_WORD.findall(normalized)):
        for i in range(1, len(w) + 1):
            p = w[:i]
            if p not in prefixes:
                break
            if p in keys:
                found.add(p)
    for line in text.splitlines():
        m = _SET_LINE.search(line) or _FOR_LINE.search(line)
        if m:
            found.update(w for w in _WORD.findall(line[m.end() :]) if w in keys)
    for line in normalized.splitlines():
        if _IF_LINE.search(line):
            for w in _WORD.findall(line):
                for i in range(len(w)):
                    for j in range(i + 1, len(w) + 1):
                        if w[i:j] not in prefixes:
                            break
                        if w[i:j] in keys:
                            found.add(w[i:j])
    if "cdt(" in text:
        found.update(k for k in ("cdt_name", "cdt_arch") if k in keys)
    for _, lang in _LANG_CALL.findall(text):
        for suffix in ("_compiler", "_compiler_version", "_stdlib", "_stdlib_version"):
            if lang + suffix in keys:
                found.add(lang + suffix)
    return frozenset(found)


def used_in_text(
    keys: Collection[str],
    text: str,
    *,
    selectors_only: bool = False,
    within: Collection[str] | None = None,
    sysroot: bool = True,
) -> set[str]:
    """The keys of ``keys`` that ``text`` uses, by conda-build's line patterns.

    ``within``: a known superset of the candidates (e.g. :func:`candidates` of the whole recipe).
    ``sysroot=False`` leaves out conda-build's one rule that is not about the key itself
    (``c_compiler`` / ``cxx_compiler`` bring ``CONDA_BUILD_SYSROOT`` when that is a key): without it
    each key is judged on its own, so the result for a superset of ``keys`` restricted to ``keys``
    is the result for ``keys`` (what ``planner.render.v0.outputs.used_keys`` relies on).
    """
    used: set[str] = set()
    lines = text.splitlines()
    normalized = [ln.replace("-", "_") for ln in lines]
    pool = within if within is not None else candidates(frozenset(keys), text)
    for key in pool:
        m = _COMPILER_KEY.match(key)
        if m and not selectors_only:
            lang = m.group(1)
            relevant = [ln for ln in lines if key in ln or lang in ln]
        elif key in ("cdt_name", "cdt_arch") and not selectors_only:
            relevant = [ln for ln in lines if "cdt(" in ln or key in ln]
        else:
            relevant = [ln for ln, nl in zip(lines, normalized, strict=True) if key in nl]
        if not relevant:
            continue
        pat = _patterns(key, selectors_only)
        if any(pat.search(ln) for ln in relevant):
            used.add(key)
            if sysroot and key in ("c_compiler", "cxx_compiler") and "CONDA_BUILD_SYSROOT" in keys:
                used.add("CONDA_BUILD_SYSROOT")
    return used


def outputs_text(raw: str) -> str:
    m = OUTPUTS_SECTION.search(raw)
    return m.group(1) if m else ""


def output_chunks(raw_outputs: str) -> list[str]:
    return OUTPUT_CHUNK.findall(raw_outputs)


def trim_build_only(
    used_in_reqs: Iterable[str],
    build: Iterable[str],
    host: Iterable[str],
    run: Iterable[str],
    ignore_build_only: Collection[str],
) -> set[str]:
    """Drop keys used only as bare run requirements, and build-only keys conda-build ignores."""
    build_names = {r.split()[0].replace("-", "_") for r in build if r and r.split()}
    host_names = {r.split()[0].replace("-", "_") for r in host if r and r.split()}
    run_list = list(run)
    keep: set[str] = set()
    for dep in used_in_reqs:
        if dep in run_list:
            if dep not in build_names and dep not in host_names:
                continue
        elif dep in build_names and dep not in host_names and dep in ignore_build_only:
            continue
        keep.add(dep)
    return keep


def used_in_shell_script(keys: Iterable[str], text: str) -> set[str]:
    """Keys a ``build.sh`` (or an output's ``.sh`` script) uses, by conda-build's scan of build scripts.

    conda-build counts ``$KEY`` / ``${KEY`` when it is the first ``$`` since the start of a line and the
    name is followed by whitespace, ``|`` or ``}`` (so ``$KEY/lib`` or ``"$KEY"`` do not count, nor a
    second ``$KEY`` on a line). Why it matters: a key used only by the script (``blas_impl_lib``)
    still splits the recipe into variants and is part of its jobs' identity.
    """
    found = set()
    for key in keys:
        if key in text and _shell_pattern(key).search(text):
            found.add(key)
    return found


def used_in_batch_script(keys: Iterable[str], text: str) -> set[str]:
    """Keys a ``bld.bat`` (or an output's ``.bat`` script) uses: ``%KEY%`` anywhere (conda-build's
    scan; only for Windows targets, as conda-build reads ``bld.bat`` only there)."""
    return {key for key in keys if f"%{key}%" in text}


@lru_cache(maxsize=4096)
def _shell_pattern(key: str) -> re.Pattern[str]:
    return re.compile(rf"^[^$]*?\$\{{?\s*{re.escape(key)}\s*[\s|}}]", re.M | re.S)
