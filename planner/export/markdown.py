"""The Markdown body of a PR comment: what the PR builds, where, in which order and why.

A reviewer reads it in a PR thread, and GitHub refuses a comment over 65,536 characters, so the body
is written to a budget (:data:`LIMIT`) and always fits, whatever the plan:

1. a summary: jobs, recipes, layers and makespan (with its unit) per platform, and what is new since
   the last comment (read back from the hidden state line of the previous body);
2. what changed (the recipes the PR touched, or the config keys), and the warnings that name them;
3. per platform a collapsed ``<details>`` with the jobs grouped by recipe (variants collapsed to the
   keys that differ, ``py 3.10-3.14 x5``), ordered by layer; the platforms share what is left of
   the budget, and where a table must stop a line says how much is left out and where the full plan is;
4. skipped jobs, broken cycles, all warnings and render errors, each capped.

Every recipe-derived string goes through :mod:`planner.export.text` (code spans or escapes): a PR
cannot @-mention, link, inject HTML or fake a line of ours.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from planner.export.common import makespan_text
from planner.export.text import code
from planner.plan.model import Plan, PlanNode, SelectKind

#: The comment marker a bot looks for to update its own comment instead of posting a new one.
MARKER = "<!-- stackplan-preview -->"
#: GitHub's limit on a comment body, in characters.
GITHUB_LIMIT = 65_536
#: What the body may use: the limit less a margin for what a caller appends (commit, run link).
LIMIT = GITHUB_LIMIT - 1_536
#: Most lines of each capped list (changed recipes, warnings, skipped, errors).
MAX_LIST = 30
#: The hidden line carrying what the next comment compares itself with.
STATE_PREFIX = "<!-- stackplan-state "
#: The state keeps the recipe names only for plans this small (else counts only).
STATE_MAX_RECIPES = 300

DASH, TIMES = "\u2013", "\u00d7"
_SHORT_KEYS = {"python": "py", "numpy": "np", "cuda_compiler_version": "cuda", "target_platform": "target"}
_SEEDS = (SelectKind.CHANGED, SelectKind.CONFIG_CHANGE, SelectKind.EXPLICIT)


# --------------------------------------------------------------------------------------- grouping


@dataclass(frozen=True)
class RecipeRow:
    """The jobs of one recipe on one platform lane, as one table row."""

    recipe: str
    name: str
    versions: tuple[str, ...]
    layers: tuple[int, int]
    variants: str
    jobs: int
    why: str
    seed: bool
    targets: tuple[str, ...] = ()  # the platforms its cross-compiled jobs build for


def _name(node: PlanNode) -> str:
    return node.outputs[0].name if node.outputs else node.recipe.rsplit("/", 1)[-1]


def _span(values: Sequence[str]) -> str:
    """``["3.10", "3.11", "3.12"]`` -> ``3.10-3.12`` (an en dash; sorted as versions); two are listed."""

    def key(v: str):
        return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-_]", v)]

    vals = sorted(set(values), key=key)
    if len(vals) <= 2:
        return ", ".join(vals)
    return f"{vals[0]}{DASH}{vals[-1]}"


def differing_keys(nodes: Sequence[PlanNode]) -> str:
    """The variant keys whose values differ among ``nodes`` (one recipe's jobs), collapsed:
    ``py 3.10-3.14 x5`` (en dash, times sign); empty when the jobs differ in nothing shown.

    >>> from planner.plan.model import PlanNode, Reason, SelectKind
    >>> n = lambda py: PlanNode(id=py, recipe="r", format="v0", platform="linux-64",
    ...     build_platform="linux-64", variant={"python": py, "zlib": "1"}, outputs=(),
    ...     selected=Reason(SelectKind.ALL))
    >>> differing_keys([n("3.10"), n("3.11"), n("3.12")]) == f"py 3.10{DASH}3.12 {TIMES}3"
    True
    """
    keys = sorted({k for n in nodes for k in n.variant if k != "target_platform"})
    parts = []
    for key in keys:
        values = [str(n.variant.get(key, "")) for n in nodes]
        if len(set(values)) > 1:
            parts.append(f"{_SHORT_KEYS.get(key, key)} {_span([v for v in values if v])}")
    if not parts:
        return ""
    return " · ".join(parts) + (f" {TIMES}{len(nodes)}" if len(nodes) > 2 else "")


def _parent(detail: str) -> str:
    """``depends on libtiff-4.6-0@linux-64[ab12] (1 step)`` -> ``libtiff-4.6-0``."""
    m = re.match(r"(?:depends on|needed by) (\S+)", detail)
    return m.group(1).split("@", 1)[0] if m else detail


def _why(nodes: Sequence[PlanNode]) -> tuple[str, bool]:
    later = (SelectKind.UPSTREAM, SelectKind.DOWNSTREAM, SelectKind.ALL)
    order = {k: i for i, k in enumerate((*_SEEDS, *later))}
    best = min(nodes, key=lambda n: (order.get(n.selected.kind, 9), n.id)).selected
    if best.kind in (SelectKind.DOWNSTREAM, SelectKind.UPSTREAM):
        arrow = "↓ after" if best.kind is SelectKind.DOWNSTREAM else "↑ for"
        return f"{arrow} {code(_parent(best.detail), 80, table=True)}", False
    if best.kind is SelectKind.ALL:
        return "all", False
    detail = f" {code(best.detail, 80, table=True)}" if best.detail else ""
    return f"**{best.kind}**{detail}", best.kind in _SEEDS


def recipe_rows(nodes: Iterable[PlanNode]) -> list[RecipeRow]:
    """One row per recipe, ordered by first layer then recipe dir."""
    by_recipe: dict[tuple[str, str], list[PlanNode]] = defaultdict(list)
    for n in nodes:  # a cross-compiled job is its own row: it builds for another target
        by_recipe[(n.recipe, "" if n.platform in ("noarch", n.lane) else n.platform)].append(n)
    rows = []
    for (recipe, _target), group in by_recipe.items():
        group.sort(key=lambda n: n.id)
        why, seed = _why(group)
        rows.append(
            RecipeRow(
                recipe=recipe,
                name=_name(group[0]),
                versions=tuple(sorted({o.version for n in group for o in n.outputs[:1]})),
                layers=(min(n.layer for n in group), max(n.layer for n in group)),
                variants=differing_keys(group),
                jobs=len(group),
                why=why,
                seed=seed,
                targets=tuple(sorted({n.platform for n in group if n.platform not in ("noarch", n.lane)})),
            )
        )
    rows.sort(key=lambda r: (r.layers[0], r.recipe))
    return rows


# ------------------------------------------------------------------------------------------- state


def state_line(plan: Plan) -> str:
    """The hidden line the next comment reads to say what is new (base64 JSON: PR text never
    appears in the HTML comment, so it cannot close it)."""
    building = [n for n in plan.nodes if not n.skipped]
    jobs = Counter(n.lane for n in building)
    recipes = sorted({n.recipe for n in building})
    state: dict[str, object] = {"plan": plan.hash[:12], "jobs": dict(sorted(jobs.items()))}
    if len(recipes) <= STATE_MAX_RECIPES:
        state["recipes"] = recipes
    blob = base64.b64encode(json.dumps(state, sort_keys=True, separators=(",", ":")).encode()).decode()
    return f"{STATE_PREFIX}{blob} -->"


def read_state(body: str | None) -> dict | None:
    """The state of an earlier comment body, or None (no comment, or not one of ours, or damaged)."""
    if not body:
        return None
    for line in body.splitlines()[:5]:
        if line.startswith(STATE_PREFIX) and line.endswith(" -->"):
            try:
                state = json.loads(base64.b64decode(line[len(STATE_PREFIX) : -4], validate=True))
            except ValueError:
                return None
            if not isinstance(state, dict) or not isinstance(state.get("jobs"), dict):
                return None
            jobs = {str(k): v for k, v in state["jobs"].items() if isinstance(v, int)}
            recipes = state.get("recipes")
            return {
                "plan": str(state.get("plan", ""))[:12],
                "jobs": jobs,
                "recipes": [str(r) for r in recipes] if isinstance(recipes, list) else None,
            }
    return None


def _since(plan: Plan, previous: dict | None) -> list[str]:
    if previous is None:
        return []
    if previous["plan"] == plan.hash[:12]:
        return [f"Unchanged since the last update (plan `{previous['plan']}`)."]
    building = [n for n in plan.nodes if not n.skipped]
    now = Counter(n.lane for n in building)
    parts = []
    for platform in sorted(set(now) | set(previous["jobs"])):
        delta = now.get(platform, 0) - previous["jobs"].get(platform, 0)
        if delta:
            parts.append(f"{platform} {delta:+d}")
    line = f"**Since the last update** (plan `{previous['plan']}`): " + (
        "jobs " + ", ".join(parts) if parts else "same job counts, different plan"
    )
    lines = [line + "."]
    if previous["recipes"] is not None:
        before, after = set(previous["recipes"]), {n.recipe for n in building}
        for sign, names in (("added", sorted(after - before)), ("dropped", sorted(before - after))):
            if names:
                shown = ", ".join(code(r, 80) for r in names[:20])
                lines.append(
                    f"- {sign}: {shown}" + (f" and {len(names) - 20} more" if len(names) > 20 else "")
                )
    return lines


# ------------------------------------------------------------------------------------------- body


def _hubs(plan: Plan, building: Sequence[PlanNode], top: int = 12) -> str:
    """The rebuilt recipes most others in the plan wait for (direct dependents, all platforms): the
    ones a reviewer knows by name, whatever layer they are in."""
    recipe_of = {n.id: n for n in building}
    dependents: dict[str, set[str]] = defaultdict(set)
    for e in plan.edges:
        src, dst = recipe_of.get(e.source), recipe_of.get(e.target)
        if src is not None and dst is not None and src.recipe != dst.recipe:
            dependents[src.recipe].add(dst.recipe)
    ranked = sorted(dependents.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:top]
    if len(ranked) < 3:
        return ""
    name = {n.recipe: _name(n) for n in building}
    shown = " · ".join(f"{code(name[r], 80)} ({len(d)})" for r, d in ranked)
    return f"**Most waited for** (recipes depending on each): {shown}"


def _capped(items: Sequence[str], what: str, limit: int = MAX_LIST) -> list[str]:
    items = list(dict.fromkeys(items))  # variants of one job often say the same thing
    out = [f"- {x}" for x in items[:limit]]
    if len(items) > limit:
        out.append(f"- … and {len(items) - limit} more {what} (in the full plan)")
    return out


def _concerning(warnings: Sequence[object], names: set[str]) -> list[object]:
    """The warnings about what the PR changed: those the planner marked ``changed`` (a pin the changed
    package no longer satisfies, its unsatisfied requirements), else those naming a changed recipe or
    output as a whole word. Pin breaks first."""
    pattern = (
        re.compile(r"(?<![\w.-])(" + "|".join(sorted(map(re.escape, names))) + r")(?![\w-])")
        if names
        else None
    )
    found = [
        w
        for w in warnings
        if getattr(w, "changed", False) or (pattern is not None and pattern.search(str(w)))
    ]
    return sorted(found, key=lambda w: getattr(w, "kind", "") != "pin-broken")


def _kind(kind: str) -> str:
    """A warning kind as shown: ours (the planner's fixed vocabulary) as is, anything else as code."""
    from planner.plan.model import WARNING_KINDS

    return kind if kind in WARNING_KINDS else code(kind, 40)


def _warning(w: object) -> str:
    """One warning: its kind, then its message (recipe-derived: a code span)."""
    kind = getattr(w, "kind", "")
    return (f"{_kind(kind)}: " if kind else "") + code(str(w), 200)


def to_markdown(
    plan: Plan,
    *,
    previous: str | None = None,
    full_plan: str | None = None,
    footer: Sequence[str] = (),
    limit: int = LIMIT,
) -> str:
    """The comment body, at most ``limit`` characters.

    ``previous``: the body of the comment this one replaces (for "since the last update").
    ``full_plan``: where the whole plan is, Markdown of ours (a link); said on every cut line.
    ``footer``: lines of ours appended at the end (commit, run link), inside the limit.
    """
    where = full_plan or "`stackplan plan -o plan.json` / `stackplan graph --format html` with the same flags"
    building = sorted((n for n in plan.nodes if not n.skipped), key=lambda n: (n.lane, n.layer, n.id))
    skipped = sorted((n for n in plan.nodes if n.skipped), key=lambda n: n.id)
    by_lane: dict[str, list[PlanNode]] = defaultdict(list)
    for n in building:
        by_lane[n.lane].append(n)

    head = [MARKER, state_line(plan), "## stackplan preview", ""]
    if not plan.nodes:
        head += ["Nothing to build: no recipe selected.", ""]
    else:
        kinds = Counter(n.selected.kind for n in building)
        recipes = {n.recipe for n in building}
        head.append(
            f"**{len(building)} job(s) to build** from {len(recipes)} recipe(s) on {len(by_lane)} platform(s)"
            + (f" ({', '.join(f'{c} {k}' for k, c in sorted(kinds.items()))})" if kinds else "")
            + (f", {len(skipped)} skipped" if skipped else "")
            + f" · plan `{plan.hash[:12]}`"
        )
        head.append("")
        if by_lane:
            head += ["| platform | jobs | recipes | layers | makespan |", "|---|---:|---:|---:|---:|"]
            for platform, jobs in sorted(by_lane.items()):
                layers = sum(1 for x in plan.layers.get(platform, ()) if x)
                head.append(
                    f"| {platform} | {len(jobs)} | {len({n.recipe for n in jobs})} | {layers} |"
                    f" {makespan_text(plan, platform)} |"
                )
            head.append("")
    hubs = _hubs(plan, building)
    if hubs:
        head += [hubs, ""]
    since = _since(plan, read_state(previous))
    if since:
        head += [*since, ""]

    seeds = [n for n in building if n.selected.kind in _SEEDS]
    if seeds:
        head += ["### What changed", ""]
        changed_rows = recipe_rows(seeds)
        by_reason: dict[tuple[str, str], list[PlanNode]] = defaultdict(list)
        for n in seeds:
            by_reason[(n.selected.kind, n.selected.detail)].append(n)
        items = []
        for (kind, detail), nodes in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            rows = recipe_rows(nodes)
            platforms = sorted({n.lane for n in nodes})
            names_shown = ", ".join(
                f"{code(r.name, 100)} {code(', '.join(r.versions), 40)}"
                + (f" ({code(r.recipe, 100)})" if len(rows) <= 10 else "")
                for r in rows[:40]
            )
            more = f" and {len(rows) - 40} more" if len(rows) > 40 else ""
            items.append(
                f"**{kind}**"
                + (f" {code(detail, 160)}" if detail else "")
                + f": {len(rows)} recipe(s), {len(nodes)} job(s) on {', '.join(platforms)}:"
                + f" {names_shown}{more}"
            )
        head += [*_capped(items, "reasons", 10), ""]
        names = {r.name for r in changed_rows} | {o.name for n in seeds for o in n.outputs}
        names |= {r.recipe.rsplit("/", 1)[-1] for r in changed_rows}
        concerning = _concerning(plan.warnings, names)
        if concerning:
            kinds = Counter(getattr(w, "kind", "warning") for w in concerning)
            summary = ", ".join(f"{n} {_kind(k)}" for k, n in sorted(kinds.items()))
            head += [f"**Warnings about what changed** ({summary})", ""]
            head += [*_capped([_warning(w) for w in concerning], "warnings", 10), ""]

    tail: list[str] = []
    if skipped:
        reasons = Counter(n.skipped.kind for n in skipped if n.skipped)
        tail.append(
            f"<details><summary>{len(skipped)} job(s) skipped: "
            + ", ".join(f"{c} {k}" for k, c in sorted(reasons.items()))
            + "</summary>"
        )
        tail.append("")
        groups: Counter[tuple[str, str, str, str]] = Counter(
            (_name(n), n.lane, n.skipped.kind, n.skipped.detail) for n in skipped if n.skipped
        )
        items = [
            f"{code(name, 100)} on {platform}: {kind} {code(detail, 120)}" + (f" ({c} jobs)" if c > 1 else "")
            for (name, platform, kind, detail), c in sorted(groups.items())
        ]
        tail += [*_capped(items, "skipped jobs", 15), "", "</details>", ""]
    if plan.bootstrap_edges:
        tail += [f"<details><summary>{len(plan.bootstrap_edges)} cycle(s) broken</summary>", ""]
        items = [
            f"{code(e.source.split('@', 1)[0], 100)} → {code(e.target.split('@', 1)[0], 100)} on"
            f" {code(e.target.split('@', 1)[-1].split('[', 1)[0], 30)} ({e.phase}: {code(e.spec, 100)})"
            " taken from the channel"
            for e in plan.bootstrap_edges
        ]
        tail += [*_capped(items, "broken cycles", 10), "", "</details>", ""]
    if plan.warnings:
        tail += [f"<details><summary>⚠️ {len(plan.warnings)} warning(s)</summary>", ""]
        tail += [*_capped([_warning(w) for w in plan.warnings], "warnings", 15), "", "</details>", ""]
    if plan.errors:
        tail += [f"### ❌ {len(plan.errors)} recipe(s) failed to render", ""]
        items = []
        for err in plan.errors:
            at = f"{err.path}:{err.line}" if err.line else str(err.path)
            items.append(f"{code(at, 200)}: {code(err.message)}")
        tail += [*_capped(items, "render errors"), ""]
    tail += list(footer)

    used = sum(len(x) + 1 for x in (*head, *tail))
    sections = _platform_sections(plan, by_lane, max(limit - used - 200, 0), where)
    body = "\n".join([*head, *sections, *tail]).rstrip("\n") + "\n"
    if len(body) > limit:  # a safety net: the capped parts above keep this from happening
        body = _hard_cut(body, limit, where)
    return body


def _item(r: RecipeRow) -> str:
    """One recipe in a layer line: ``★`pillow 10.3` `py 3.10-3.14 x5```  (★: selected by the PR itself)."""
    target = f" → {', '.join(r.targets)}" if r.targets else ""
    text = ("★" if r.seed else "") + code(f"{r.name} {', '.join(r.versions)}{target}".strip(), 120)
    layers = "" if r.layers[0] == r.layers[1] else f" (to layer {r.layers[1]})"
    return text + (f" {code(r.variants, 120)}" if r.variants else "") + layers


def _platform_sections(plan: Plan, by_lane: dict[str, list[PlanNode]], budget: int, where: str) -> list[str]:
    """Per platform a collapsed block: the recipes of each layer on one line, in layer order.

    The platform with the most jobs is listed in full (budget permitting); on the others a recipe that
    is exactly as there (same layer, versions and variants) is counted, not repeated, so the budget goes
    to what differs. The platforms share ``budget`` (the small ones take what they need, the big ones
    split the rest); where a block must stop, a line says how much is left out and where it is."""
    if not by_lane:
        return []
    reference = min(by_lane, key=lambda p: (-len(by_lane[p]), p))
    ref_items = {(r.recipe, _item(r)) for r in recipe_rows(by_lane[reference])}

    def costs(shown: list[tuple[int, str, RecipeRow]]) -> list[int]:
        layers = [layer for layer, _, _ in shown]
        return [
            len(item) + 3 + (40 if i == 0 or layers[i - 1] != layer else 0)
            for i, (layer, item, _) in enumerate(shown)
        ]

    def make_blocks(dedupe: bool):
        blocks: dict[str, tuple[list[str], list[tuple[int, str, RecipeRow]], int]] = {}
        for platform, jobs in sorted(by_lane.items()):
            rows = recipe_rows(jobs)
            same = 0
            shown: list[tuple[int, str, RecipeRow]] = []
            for r in rows:
                item = _item(r)
                if dedupe and platform != reference and (r.recipe, item) in ref_items:
                    same += 1
                else:
                    shown.append((r.layers[0], item, r))
            layers = sum(1 for x in plan.layers.get(platform, ()) if x)
            top = [
                f"<details><summary><b>{platform}</b>: {len(jobs)} job(s) in {len(rows)} recipe(s), {layers}"
                f" layer(s), makespan {makespan_text(plan, platform)}</summary>",
                "",
            ]
            if same:
                top += [
                    f"{same} recipe(s) as on {reference} (same layer, version and variants); the others:",
                    "",
                ]
            blocks[platform] = (top, shown, same)
        cost = {p: costs(shown) for p, (_, shown, _) in blocks.items()}
        need = {p: sum(len(x) + 1 for x in top) + sum(cost[p]) + 80 for p, (top, _, _) in blocks.items()}
        return blocks, cost, need

    # everything listed per platform when it fits; else what equals the biggest platform is counted
    blocks, cost, need = make_blocks(dedupe=False)
    if sum(need.values()) > budget:
        blocks, cost, need = make_blocks(dedupe=True)
    share: dict[str, int] = {}
    left, todo = budget, sorted(blocks, key=lambda p: (need[p], p))
    while todo:
        platform = todo.pop(0)
        share[platform] = min(need[platform], left // (len(todo) + 1))
        left -= share[platform]
    out: list[str] = []
    for platform, (top, shown, _same) in blocks.items():
        room = share[platform] - sum(len(x) + 1 for x in top) - 60
        if need[platform] > share[platform]:
            room -= 400  # the cut line says what is left out and where it is
        lines: list[str] = []
        current: int | None = None
        kept = 0
        counts = Counter(layer for layer, _, _ in shown)
        for (layer, item, _r), c in zip(shown, cost[platform], strict=True):
            if room - c < 0:
                break
            room -= c
            if layer != current:
                lines.append(f"- **layer {layer}** ({counts[layer]}): {item}")
                current = layer
            else:
                lines[-1] += f" · {item}"
            kept += 1
        out += top + lines
        if kept < len(shown):
            rest = [r for _, _, r in shown[kept:]]
            out.append(
                f"- … {len(rest)} more recipe(s), {sum(r.jobs for r in rest)} job(s), layers"
                f" {rest[0].layers[0]}{DASH}{max(r.layers[1] for r in rest)} not shown (comment size limit);"
                f" the full plan: {where}"
            )
        out += ["", "</details>", ""]
    return out


def _hard_cut(body: str, limit: int, where: str) -> str:
    note = f"\n\n… cut at {limit:,} characters (GitHub's comment limit); the full plan: {where}\n"
    cut = body[: max(limit - len(note) - 20, 0)]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    if cut.count("<details>") > cut.count("</details>"):
        cut += "\n\n</details>" * (cut.count("<details>") - cut.count("</details>"))
    return cut + note
