"""A migration (``stackplan rebuild --migrate zlib=1.4``): the stack of today, the new pin applied to it.

A migration means every recipe that depends on the migrated package, directly or not, rebuilds against
the new pin with a higher build number. The order of operations matters:

1. **the stack comes from today's graph**: what depends on NAME *now*. Applying ``zlib 1.4`` first would
   turn every bare ``zlib`` into ``zlib 1.4.*``, which the in-tree zlib 1.3.1 no longer satisfies, and
   the direct dependents would fall out of the stack (368 -> 341 Anaconda recipes on linux-64);
2. **then the new pin is applied to exactly those recipes**: written where their builds read it, the
   recipe-local variant config (``conda_build_config.yaml`` next to a ``meta.yaml``, ``variants.yaml``
   next to a ``recipe.yaml``; conda-build and rattler-build merge it over the global pinning, for that
   recipe only), and the plan is made for the stack with the pin as an override config;
3. **hard pins the new version breaks are reported** with file:line (``zlib 1.2.13`` in pillow's host
   is neither rewritten nor silently kept: a person decides);
4. the build numbers of exactly the stack are bumped (:mod:`planner.migrate.bump`).

Pure: no CLI, no printing; the command line (``stackplan/cli/rebuild_cmd.py``) is a thin shell over
:func:`plan_migration` and :func:`apply_migration`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from planner.matchspec import SpecCache
from planner.model import RecipeFormat
from planner.plan.model import Plan
from planner.plan.request import PlanRequest

#: Where the override config used to *plan* under the new pin lives (a content-named file per
#: migration in the state dir; the tree gets the recipe-local files of :func:`write_pins`).
MIGRATIONS_DIR = "migrations"
#: The recipe-local variant config each dialect's build tool reads next to the recipe file.
LOCAL_CONFIG = {RecipeFormat.V0.value: "conda_build_config.yaml", RecipeFormat.V1.value: "variants.yaml"}

Migrations = dict[str, list[str]]


def parse_migrations(items: Iterable[str]) -> Migrations:
    """``["python=3.12,3.13", "zlib=1.3"]`` -> ``{"python": ["3.12", "3.13"], "zlib": ["1.3"]}``.

    Repeating a key adds values (``--migrate python=3.12 --migrate python=3.13``).
    """
    out: Migrations = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        values = [v.strip() for v in value.split(",") if v.strip()]
        if not sep or not key or not values:
            raise ValueError(f"--migrate {item!r}: expected KEY=VALUE (e.g. zlib=1.3 or python=3.12,3.13)")
        for v in values:
            if v not in out.setdefault(key, []):
                out[key].append(v)
    return out


def override_config_text(migrations: Mapping[str, Sequence[str]]) -> str:
    """The override variant config (YAML), keys sorted, values quoted: byte-stable for one migration."""
    lines = ["# stackplan rebuild --migrate: pins that override every other variant config"]
    for key in sorted(migrations):
        lines.append(f"{key}:")
        lines += [f'  - "{v}"' for v in migrations[key]]
    return "\n".join(lines) + "\n"


def write_override(migrations: Mapping[str, Sequence[str]], state: Path) -> Path:
    """The override config in ``state/migrations/<hash>.yaml`` (named by content: same migration,
    same file, same plan hash)."""
    text = override_config_text(migrations)
    path = state / MIGRATIONS_DIR / f"{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


@dataclass(frozen=True)
class HardPin:
    """A requirement line pinning a migrated key to versions the new pin does not satisfy."""

    path: str  # recipe file, relative to the root
    line: int  # 1-based
    spec: str  # as written (after the ``- ``)
    key: str
    values: tuple[str, ...]  # the migration's values, none of which it accepts

    def message(self) -> str:
        return f"{self.path}:{self.line}: `{self.spec}` does not accept {self.key} {', '.join(self.values)}"


@dataclass
class MigrationPlan:
    """Today's stack and the plan for it under the new pin."""

    today: Plan  # the stack selected from today's graph (no migration applied)
    stack: tuple[str, ...]  # recipe dirs of the stack, in dependency order
    plan: Plan  # exactly the stack, under the new pin
    hard_pins: tuple[HardPin, ...] = ()
    formats: Mapping[str, str] = field(default_factory=dict)  # recipe dir -> "v0" | "v1"


def stack_recipes(plan: Plan) -> list[str]:
    """Recipe dirs of the jobs that will build, in dependency order (lowest layer first)."""
    first_layer: dict[str, int] = {}
    for node in plan.nodes:
        if node.skipped is None:
            first_layer[node.recipe] = min(first_layer.get(node.recipe, node.layer), node.layer)
    return sorted(first_layer, key=lambda r: (first_layer[r], r))


def plan_migration(
    request: PlanRequest,
    migrations: Mapping[str, Sequence[str]],
    override: Path | None,
    build_plan: Callable[[PlanRequest], Plan],
) -> MigrationPlan:
    """Select the stack from today's graph (``request`` as given: NAME and its dependents), then plan
    exactly that stack with ``override`` (the new pins) merged last. ``build_plan`` makes a plan of a
    request (:func:`planner.plan.build.build_plan`; passed in so the caller owns reporting)."""
    today = build_plan(request)
    stack = tuple(stack_recipes(today))
    formats = {n.recipe: n.format for n in today.nodes}
    if not migrations or override is None:
        plan = today
    else:
        pinned = replace(
            request,
            packages=stack,
            downstream=None,
            upstream=False,
            variant_configs=(*request.variant_configs, override),
        )
        plan = build_plan(pinned) if stack else today
    root = Path(request.root)
    pins = hard_pins(root, stack, formats, migrations)
    return MigrationPlan(today, stack, plan, pins, formats)


#: ``- NAME constraint`` on a requirement line (selector or comment after it allowed).
_REQ_LINE = re.compile(r"^\s*-\s+(?P<spec>[A-Za-z0-9_.\-]+\s+[^#\n]*?)\s*(?:#.*)?$")


def recipe_file(root: Path, recipe: str, fmt: str) -> Path:
    name = "recipe.yaml" if fmt == RecipeFormat.V1.value else "meta.yaml"
    return root / recipe / name


def hard_pins(
    root: Path, stack: Iterable[str], formats: Mapping[str, str], migrations: Mapping[str, Sequence[str]]
) -> tuple[HardPin, ...]:
    """Every requirement line of a stack recipe that names a migrated key with a version constraint
    accepting none of the new values (matched as the recipe's build tool matches it: ``zlib 1.2.13``
    is ``1.2.13.*`` for conda-build). Lines with Jinja are skipped: their value comes from the
    variant, which the migration sets."""
    cache = SpecCache()
    found = []
    for recipe in stack:
        fmt = formats.get(recipe, RecipeFormat.V0.value)
        path = recipe_file(root, recipe, fmt)
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, 1):
            m = _REQ_LINE.match(line)
            if m is None or "{{" in line or "${{" in line:
                continue
            raw = " ".join(m.group("spec").split())
            spec = cache.try_parse_requirement(raw, fmt)
            if spec is None or spec.name not in migrations or spec.version is None:
                continue
            values = tuple(migrations[spec.name])
            if not any(cache.accepts(spec, v) for v in values):
                rel = path.relative_to(root).as_posix()
                found.append(HardPin(rel, number, raw, spec.name, values))
    return tuple(sorted(found, key=lambda p: (p.path, p.line)))


def set_pins_in_config(text: str, migrations: Mapping[str, Sequence[str]]) -> str:
    """A recipe-local variant config with the migrated keys set to the new values; every other line
    kept as it was (a key's old block, its ``key:`` line and the indented or ``-`` lines under it, is
    replaced in place; a new key is appended)."""
    lines = text.splitlines()
    out: list[str] = []
    done: set[str] = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*:", line)
        if m and m.group(1) in migrations:
            key = m.group(1)
            i += 1
            while i < len(lines) and (lines[i].startswith((" ", "\t", "-")) or not lines[i].strip()):
                if not lines[i].strip() and (i + 1 >= len(lines) or not lines[i + 1].startswith((" ", "-"))):
                    break
                i += 1
            out += _block(key, migrations[key])
            done.add(key)
            continue
        out.append(line)
        i += 1
    for key in sorted(migrations):
        if key not in done:
            out += _block(key, migrations[key])
    return "\n".join(out) + "\n"


def _block(key: str, values: Sequence[str]) -> list[str]:
    return [f"{key}:  # stackplan rebuild --migrate", *(f'  - "{v}"' for v in values)]


@dataclass(frozen=True)
class PinWrite:
    """One recipe-local config written (or that would be): where, and the text before / after."""

    path: str  # relative to the root
    before: str | None  # None: the file did not exist
    after: str


def write_pins(
    root: Path,
    stack: Iterable[str],
    formats: Mapping[str, str],
    migrations: Mapping[str, Sequence[str]],
    *,
    write: bool,
) -> list[PinWrite]:
    """The new pins in the recipe-local variant config of every stack recipe (created when absent):
    what conda-build (``conda_build_config.yaml``) and rattler-build (``variants.yaml``) read for that
    recipe, over the global pinning. Nothing is written unless ``write``."""
    out = []
    for recipe in stack:
        fmt = formats.get(recipe, RecipeFormat.V0.value)
        path = root / recipe / LOCAL_CONFIG.get(fmt, LOCAL_CONFIG[RecipeFormat.V0.value])
        before = path.read_text(encoding="utf-8") if path.is_file() else None
        after = set_pins_in_config(before or "", migrations)
        if before == after:
            continue
        if write:
            path.write_text(after, encoding="utf-8")
        out.append(PinWrite(path.relative_to(root).as_posix(), before, after))
    return out
