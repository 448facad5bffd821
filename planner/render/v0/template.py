"""One compiled Jinja template per meta.yaml for every platform: line selectors become Jinja conditions.

conda-build applies line selectors to the raw text *before* Jinja, so each platform (and each variant
whose selector values differ) sees a different template source; compiling each distinct selected
source was over half of the CPU of a render. Here a recipe is compiled once, with every selector line
wrapped as ``{% if <flag> %}<line>\\n{% endif %}`` (the line without its selector, as
:func:`planner.render.selectors.select_lines` keeps it), and each render passes the flags its selector
namespace gives. Rendering it yields exactly the text the selected source renders to, because:

* every selector line starts and ends outside any Jinja construct (checked with Jinja's own lexer on
  the text with all lines kept), so dropping the line or skipping the ``if`` body leaves the rest of
  the template tokenized the same;
* the recipe has no whitespace control (``{%-``, ``-}}``...) and no ``{% raw %}`` block: those reach
  across line boundaries and would act on the inserted tags instead of the neighbouring lines;
* a selector line holds no block tag other than a one-line ``{% set x = ... %}``: a lone
  ``{% if %}`` or ``{% endif %}`` would pair with the inserted tags;
* Jinja's scoping of ``{% if %}`` is flat: a ``set`` inside the inserted ``if`` is seen after it,
  and when the branch is skipped the name resolves from the context, as when the line is absent.

Otherwise :func:`recipe_template` returns None and the caller compiles the selected text per
selection, as before. On the error path (a Jinja error while rendering) the caller also renders the
selected text the old way, so error messages and lines are those of the per-text path, unchanged.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

from planner.render.selectors import distinct_selectors, split_selectors
from planner.render.v0.jinja_env import environment

#: Names of the inserted flags; a recipe that already uses the prefix is not combined.
FLAG_PREFIX = "_stackplan_sel_"
_WHITESPACE_CONTROL = re.compile(r"\{[%{#][-+]|[-+][%}#]\}")
_RAW_BLOCK = re.compile(r"\{%\s*raw\b")
_ONE_LINE_SET = re.compile(r"\{%\s*set\s+[\w.]+(?:\s*,\s*[\w.]+)*\s*=[^=]")


@dataclass(frozen=True)
class RecipeTemplate:
    """The combined template of one recipe and the flag name of each distinct selector."""

    template: jinja2.Template
    flags: Mapping[str, str]  # selector expression -> flag variable

    def context(self, values: Mapping[str, bool], ctx: Mapping[str, Any]) -> ChainMap:
        """``ctx`` plus the flags for ``values`` (selector -> kept), as :func:`selector_values` gives."""
        top = {flag: values[sel] for sel, flag in self.flags.items()}
        maps = ctx.maps if isinstance(ctx, ChainMap) else [ctx]
        return ChainMap(top, *maps)


def _root_line_ends(text: str) -> set[int] | None:
    """The 1-based lines of ``text`` whose newline lies outside every Jinja construct (None: no lex)."""
    ends: set[int] = set()
    try:
        for lineno, token, value in environment().lexer.tokeniter(text, None):
            if token != "data":
                continue
            pos = value.find("\n")
            line = lineno
            while pos != -1:
                ends.add(line)
                line += 1
                pos = value.find("\n", pos + 1)
    except jinja2.TemplateSyntaxError:
        return None
    return ends


@lru_cache(maxsize=16)  # a recipe's platforms and variants render in a row; templates are big
def recipe_template(raw: str) -> RecipeTemplate | None:
    """The combined template of a meta.yaml's raw text, or None where it would not be equivalent.

    None also for a recipe without selectors (its one selected text is compiled once anyway) and
    for one whose every line has a selector (dropping them all gives ``"\n"``, the template ``""``).
    """
    selectors = distinct_selectors(raw)
    if not selectors or FLAG_PREFIX in raw or _WHITESPACE_CONTROL.search(raw) or _RAW_BLOCK.search(raw):
        return None
    lines = split_selectors(raw)
    if all(selector is not None for selector, _ in lines):  # all dropped gives "\n", not ""
        return None
    for selector, line in lines:
        if selector is not None and "{%" in line and line.count("{%") != len(_ONE_LINE_SET.findall(line)):
            return None
    plain = "".join(line + "\n" for _, line in lines)
    ends = _root_line_ends(plain)
    if ends is None:
        return None
    flags = {sel: f"{FLAG_PREFIX}{n}" for n, (_, sel) in enumerate(selectors)}
    parts = []
    for i, (selector, line) in enumerate(lines, start=1):
        if selector is None:
            parts.append(line + "\n")
            continue
        if (i > 1 and i - 1 not in ends) or i not in ends:
            return None
        parts.append(f"{{% if {flags[selector]} %}}{line}\n{{% endif %}}")
    try:
        template = environment().from_string("".join(parts))
    except jinja2.TemplateError:
        return None
    return RecipeTemplate(template, flags)
