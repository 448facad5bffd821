"""Raise the build number of a recipe in place, as a small reviewable diff.

A group rebuild (``stackplan rebuild --bump``) must give reviewers a diff that touches exactly the
build numbers: comments, quotes, selectors, Jinja and layout stay as they were. The two recipe
dialects need different tools for that:

- ``recipe.yaml`` (v1) is real YAML, so it goes through ruamel.yaml's round trip. The number is either
  a literal (``number: 3``) or a ``${{ name }}`` reference to a ``context:`` entry, which is bumped
  instead. ruamel normalises some layouts (mixed sequence indents); when its output would change any
  line other than the bumped ones, the same edit is applied to those lines alone, at the positions
  ruamel reported, so the diff stays minimal either way.
- ``meta.yaml`` (v0) is a Jinja template, not YAML, so it is edited line by line: ``number: 3`` lines
  under a ``build:`` key, and when the number is a Jinja expression (``number: {{ build }}``) the
  ``{% set build = 3 %}`` line(s) of the names it uses. Quotes, selectors (``# [osx]``) and trailing
  comments on the line are kept.

Every ``build: number:`` of a recipe is bumped (multi-output recipes and per-selector alternatives
carry several). A recipe whose number cannot be found or is an expression with no literal behind it
gets a :class:`~planner.model.RecipeError` with the line, and its text is left alone.
"""

from __future__ import annotations

import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.model import RecipeError, RecipeFormat

__all__ = [
    "BumpChange",
    "BumpResult",
    "bump_meta_yaml",
    "bump_recipe_dir",
    "bump_recipe_yaml",
    "bump_text",
]


@dataclass(frozen=True)
class BumpChange:
    """One edited line: 1-based line number, the line before and after (without newline)."""

    line: int
    before: str
    after: str


@dataclass(frozen=True)
class BumpResult:
    """The outcome for one recipe file: the new text and the lines that changed, or an error."""

    path: str
    old_text: str
    new_text: str
    changes: tuple[BumpChange, ...] = ()
    error: RecipeError | None = None

    @property
    def changed(self) -> bool:
        return self.error is None and self.new_text != self.old_text

    def diff(self, label: str | None = None) -> str:
        """A unified diff (``a/`` and ``b/`` prefixes like git's), empty when nothing changed."""
        name = label or self.path
        return "".join(
            difflib.unified_diff(
                self.old_text.splitlines(keepends=True),
                self.new_text.splitlines(keepends=True),
                fromfile=f"a/{name}",
                tofile=f"b/{name}",
            )
        )


# ---------------------------------------------------------------------------------------- v0 (meta.yaml)

_NUMBER_LINE = re.compile(
    r"^(?P<lead>\s*(?:-\s+)?number[ \t]*:[ \t]*)(?P<value>[^#\n]*?)(?P<trail>[ \t]*(?:#.*)?)$"
)
_LITERAL = re.compile(r"^(?P<q>[\"']?)(?P<num>\d+)(?P=q)$")
_JINJA_EXPR = re.compile(r"^[\"']?\{\{-?(?P<expr>.*?)-?\}\}[\"']?$")
_SET_LINE = re.compile(
    r"^(?P<pre>\s*\{%-?\s*set\s+)(?P<name>[A-Za-z_]\w*)(?P<mid>\s*=\s*)(?P<q>[\"']?)(?P<num>\d+)(?P=q)"
    r"(?P<post>\s*-?%\}.*)$"
)
_BUILD_KEY = re.compile(r"^\s*(?:-\s+)?build[ \t]*:[ \t]*(?:#.*)?$")
_TOP_BUILD = re.compile(r"^build[ \t]*:[ \t]*(?:#.*)?$")
#: Top-level sections a new ``build:`` section goes before (conda-build's usual order).
_AFTER_BUILD = re.compile(r"^(requirements|test|tests|about|outputs|extra|app)[ \t]*:")
_IDENT = re.compile(r"[A-Za-z_]\w*")
_SKIP_PARENT = re.compile(r"^\s*(?:#|\{%|$)")  # comments, Jinja statements and blank lines are not parents


def _indent(line: str) -> int:
    stripped = line.lstrip(" ")
    if stripped.startswith("- "):  # "- number: 1" sits one level deeper than its dash
        return len(line) - len(stripped) + 2
    return len(line) - len(stripped)


def _under_build(lines: list[str], index: int) -> bool:
    """True when line ``index`` is a key of a ``build:`` mapping (its nearest less-indented parent)."""
    own = _indent(lines[index])
    for j in range(index - 1, -1, -1):
        line = lines[j]
        if _SKIP_PARENT.match(line):
            continue
        if len(line) - len(line.lstrip(" ")) < own:
            return bool(_BUILD_KEY.match(line))
    return False


def _bump_literal(value: str) -> str:
    m = _LITERAL.match(value)
    assert m is not None
    return f"{m['q']}{int(m['num']) + 1}{m['q']}"


def bump_meta_yaml(text: str, path: str = "meta.yaml") -> BumpResult:
    """Bump every ``build: number:`` of a conda-build ``meta.yaml`` by editing only those lines.

    >>> bump_meta_yaml("build:\\n  number: 3  # [linux]\\n").new_text
    'build:\\n  number: 4  # [linux]\\n'
    """
    lines = text.split("\n")
    new = list(lines)
    changes: dict[int, BumpChange] = {}
    wanted_names: dict[str, int] = {}  # Jinja variable -> line number that used it
    found = False
    for i, line in enumerate(lines):
        m = _NUMBER_LINE.match(line)
        if not m or not _under_build(lines, i):
            continue
        found = True
        value = m["value"]
        if _LITERAL.match(value):
            new[i] = f"{m['lead']}{_bump_literal(value)}{m['trail']}"
            continue
        jm = _JINJA_EXPR.match(value)
        if not jm:
            return _failed(text, path, i + 1, f"cannot bump build number {value.strip()!r}: not a number")
        names = [n for n in _IDENT.findall(jm["expr"]) if n not in _JINJA_WORDS]
        if not names:
            return _failed(text, path, i + 1, f"cannot bump build number {value.strip()!r}: no variable")
        for name in names:
            wanted_names.setdefault(name, i + 1)
    if not found:
        return _insert_number(text, path, lines)
    bumped_names: set[str] = set()
    for i, line in enumerate(lines):
        m = _SET_LINE.match(line)
        if m and m["name"] in wanted_names:
            new[i] = f"{m['pre']}{m['name']}{m['mid']}{m['q']}{int(m['num']) + 1}{m['q']}{m['post']}"
            bumped_names.add(m["name"])
    if wanted_names and not bumped_names:
        name, lineno = min(wanted_names.items(), key=lambda kv: kv[1])
        return _failed(
            text, path, lineno, f"build number uses {name!r} but no '{{% set {name} = N %}}' found"
        )
    for i, (before, after) in enumerate(zip(lines, new, strict=True)):
        if before != after:
            changes[i] = BumpChange(i + 1, before, after)
    return BumpResult(path, text, "\n".join(new), tuple(changes[k] for k in sorted(changes)))


def _child_indent(lines: list[str], index: int) -> str:
    """The indentation of the first key under the mapping that starts at line ``index`` (2 spaces if none)."""
    for line in lines[index + 1 :]:
        if _SKIP_PARENT.match(line):
            continue
        width = len(line) - len(line.lstrip(" "))
        return " " * width if width > 0 else "  "
    return "  "


def _insert_number(text: str, path: str, lines: list[str]) -> BumpResult:
    """A recipe without a build number builds number 0 (conda-build's and rattler-build's default),
    so the bump writes ``number: 1``: as the first key of the top-level ``build:`` section, or in a new
    ``build:`` section placed before ``requirements:`` (or the next usual section, else at the end).
    Outputs without a number of their own inherit it."""
    new = list(lines)
    for i, line in enumerate(lines):
        if re.match(r"^build[ \t]*:[ \t]*[^#\s]", line):
            return _failed(
                text, path, i + 1, "no build number and an inline build section: add 'number:' by hand"
            )
        if _TOP_BUILD.match(line):
            new.insert(i + 1, f"{_child_indent(lines, i)}number: 1")
            return BumpResult(path, text, "\n".join(new), (BumpChange(i + 2, "", new[i + 1]),))
    at = next((i for i, line in enumerate(lines) if _AFTER_BUILD.match(line)), None)
    if at is None:
        at = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
        block = ["", "build:", "  number: 1"] if at and lines[at - 1].strip() else ["build:", "  number: 1"]
    else:
        block = ["build:", "  number: 1", ""]
    new[at:at] = block
    first = at + block.index("build:") + 1
    return BumpResult(
        path,
        text,
        "\n".join(new),
        (BumpChange(first, "", "build:"), BumpChange(first + 1, "", "  number: 1")),
    )


#: Jinja words and common filters that may appear in a build-number expression but are not variables.
_JINJA_WORDS = frozenset(
    {"int", "float", "string", "default", "if", "else", "and", "or", "not", "is", "none"}
)


# ---------------------------------------------------------------------------------------- v1 (recipe.yaml)

_V1_REF = re.compile(r"^\$\{\{\s*(?P<name>[A-Za-z_]\w*)\s*\}\}$")


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 16
    return yaml


def _bumped_scalar(value: Any) -> Any | None:
    """``value`` plus one, keeping its YAML type and quote style; None when it is not a number."""
    from ruamel.yaml.scalarstring import ScalarString

    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return type(value)(value + 1) if type(value) is not int else value + 1
    if isinstance(value, str) and value.isdigit():
        if isinstance(value, ScalarString):
            return type(value)(str(int(value) + 1))
        return str(int(value) + 1)
    return None


def bump_recipe_yaml(text: str, path: str = "recipe.yaml") -> BumpResult:
    """Bump every ``build.number`` of a rattler-build ``recipe.yaml`` through ruamel.yaml's round trip.

    ``number: ${{ build_number }}`` bumps ``context.build_number`` instead (once, however many
    outputs refer to it).
    """
    from ruamel.yaml.error import YAMLError

    yaml = _yaml()
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return _failed(text, path, mark.line + 1 if mark else None, f"invalid YAML: {exc}")
    if not isinstance(data, dict):
        return _failed(text, path, None, "recipe is not a mapping")
    # Places that hold a build number: (mapping, key) pairs.
    holders: list[tuple[Any, str]] = []
    for section in [data, *[o for o in data.get("outputs") or () if isinstance(o, dict)]]:
        build = section.get("build")
        if isinstance(build, dict) and "number" in build:
            holders.append((build, "number"))
    if not holders:
        return _insert_number(text, path, text.split("\n"))
    context = data.get("context") if isinstance(data.get("context"), dict) else {}
    targets: list[tuple[Any, str]] = []
    for mapping, key in holders:
        value = mapping[key]
        line = mapping.lc.value(key)[0] + 1
        if _bumped_scalar(value) is not None:
            targets.append((mapping, key))
            continue
        ref = _V1_REF.match(str(value).strip())
        if not ref:
            return _failed(
                text, path, line, f"cannot bump build number {value!r}: not a number or ${{{{ name }}}}"
            )
        name = ref["name"]
        if name not in context or _bumped_scalar(context[name]) is None:
            return _failed(text, path, line, f"build number uses {name!r} but context has no number {name}")
        if (context, name) not in [(m, k) for m, k in targets]:
            targets.append((context, name))
    # Remember where each target sits before mutating (ruamel keeps positions from the load).
    positions = [(mapping.lc.value(key)[0], mapping[key]) for mapping, key in targets]
    for mapping, key in targets:
        mapping[key] = _bumped_scalar(mapping[key])
    out = io.StringIO()
    yaml.dump(data, out)
    new_text = out.getvalue()
    old_lines = text.splitlines()
    new_lines = new_text.splitlines()
    bumped_lines = {line for line, _ in positions}
    if len(old_lines) == len(new_lines) and all(
        a == b for i, (a, b) in enumerate(zip(old_lines, new_lines, strict=True)) if i not in bumped_lines
    ):
        if text.endswith("\n") != new_text.endswith("\n"):
            new_text = new_text.rstrip("\n") + ("\n" if text.endswith("\n") else "")
    else:
        # ruamel would reformat other lines: apply the same edit to the reported lines only.
        new_text = _edit_lines(text, positions)
    new_lines = new_text.splitlines()
    changes = tuple(
        BumpChange(i + 1, old_lines[i], new_lines[i])
        for i in sorted(bumped_lines)
        if old_lines[i] != new_lines[i]
    )
    return BumpResult(path, text, new_text, changes)


def _edit_lines(text: str, positions: list[tuple[int, Any]]) -> str:
    """Replace the value on each (0-based line, old value) by the value plus one, touching nothing else."""
    lines = text.split("\n")
    for line_no, old in positions:
        line = lines[line_no]
        key, sep, rest = line.partition(":")
        m = re.match(r"^(?P<sp>\s*)(?P<q>[\"']?)(?P<num>\d+)(?P=q)(?P<tail>.*)$", rest)
        if not sep or not m or int(m["num"]) != int(str(old)):
            raise AssertionError(f"line {line_no + 1} does not hold {old!r}: {line!r}")
        lines[line_no] = f"{key}:{m['sp']}{m['q']}{int(m['num']) + 1}{m['q']}{m['tail']}"
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- entry points


def _failed(text: str, path: str, line: int | None, message: str) -> BumpResult:
    return BumpResult(path, text, text, (), RecipeError(path, line, message))


def bump_text(text: str, fmt: RecipeFormat | str, path: str) -> BumpResult:
    """Bump a recipe given as text in either dialect."""
    if RecipeFormat(fmt) is RecipeFormat.V1:
        return bump_recipe_yaml(text, path)
    return bump_meta_yaml(text, path)


def bump_recipe_dir(recipe_dir: Path, *, write: bool = False, label: str | None = None) -> BumpResult:
    """Bump the recipe in ``recipe_dir`` (recipe.yaml wins over meta.yaml, as discovery decides).

    With ``write`` the file is rewritten in place, byte for byte except the bumped lines. ``label``
    names the recipe dir in the result (e.g. its path relative to the recipe tree).
    """
    for name, fmt in (("recipe.yaml", RecipeFormat.V1), ("meta.yaml", RecipeFormat.V0)):
        file = recipe_dir / name
        if file.is_file():
            text = file.read_text(encoding="utf-8")
            result = bump_text(text, fmt, f"{label}/{name}" if label else str(file))
            if write and result.changed:
                file.write_text(result.new_text, encoding="utf-8")
            return result
    path = label or str(recipe_dir)
    return BumpResult(path, "", "", (), RecipeError(path, None, "no meta.yaml or recipe.yaml"))
