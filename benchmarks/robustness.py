"""Robustness: render the WHOLE corpus on every target and classify what goes wrong.

The fidelity benchmark compares 1,500 recipes with conda-build's truth; this one asks a weaker
question of all 11,031 (9,323 bioconda recipes with the conda-forge pinning + bioconda's config as
exclusive configs, 1,708 Anaconda feedstocks with the aggregate config) on all 8 targets: does the
render come back without an internal error, and does it look sane? :func:`suspicious` lists what a
correct render can never hold (an unrendered ``{{``, a selector left in a string, an empty name, a
version "None" that no undefined name explains, the same output twice, a variant key that no config
holds...). Errors are grouped into classes by their message with names and numbers masked.

    python -m benchmarks robustness                     # everything, 2 processes, docs figures on stdout
    python -m benchmarks robustness --set anaconda --platform linux-64 --show 3
    python -m benchmarks robustness --jsonl /tmp/robust.jsonl   # every finding, one JSON line each
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fidelity import default_corpus
from planner.inputs.discover import discover
from planner.model import PHASES, PlatformRender, RecipeSource, RenderOptions
from planner.platforms import BUILD_SUBDIRS
from planner.render.recipe import render_recipe

TARGETS: tuple[str, ...] = (*BUILD_SUBDIRS, "noarch")

_SELECTOR = re.compile(r"#\s*\[")
_MASK_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_MASK_NUM = re.compile(r"\d+")


@dataclass(frozen=True)
class CorpusSet:
    """One part of the corpus and the configs it is rendered with."""

    name: str  # "bioconda" | "anaconda"
    root: Path
    options: RenderOptions


def corpus_sets(corpus: Path) -> list[CorpusSet]:
    cfg = corpus / "config"
    bio = (cfg / "conda-forge-pinning.yaml", cfg / "bioconda_utils-conda_build_config.yaml")
    ana = (cfg / "anaconda-aggregate-conda_build_config.yaml",)
    return [
        CorpusSet("bioconda", corpus / "bioconda", RenderOptions(exclusive_configs=bio)),
        CorpusSet("anaconda", corpus / "anaconda", RenderOptions(exclusive_configs=ana)),
    ]


def error_class(message: str) -> str:
    """An error message with the recipe-specific parts (quoted names, numbers) masked."""
    text = message.split(": ", 1)[1] if re.match(r"^/\S+(:\d+)?: ", message) else message
    text = _MASK_QUOTED.sub("'…'", text)
    return _MASK_NUM.sub("N", text)[:120]


def suspicious(render: PlatformRender) -> list[str]:
    """What a correct render can never hold, one short class name each (empty: looks sane).

    Cheap and independent of conda-build: applied to every render of the corpus and in the tests.
    """
    found: list[str] = []
    if render.error is not None:
        if "internal error" in render.error.message:
            found.append("internal error")
        return found
    seen: collections.Counter[tuple] = collections.Counter()
    for job in render.variants:
        for out in job.outputs:
            if not out.name or out.name == "None" or not out.name.strip():
                found.append("empty name")
            if out.name != out.name.strip() or " " in out.name:
                found.append("whitespace in name")
            if not out.version.strip():
                found.append("empty version")
            elif out.version == "None" and not out.undefined_jinja and not job.undefined_jinja:
                found.append("version None without an undefined name")
            for field_name, value in (("name", out.name), ("version", out.version)):
                if "{{" in value or "{%" in value or "}}" in value:
                    found.append(f"unrendered jinja in {field_name}")
            if out.build_number < 0:
                found.append("negative build number")
            specs = [s for p in PHASES for s in out.requirements.phase(p)] + list(out.test_requires)
            for spec in specs:
                if "{{" in spec or "{%" in spec or "}}" in spec or "%}" in spec:
                    found.append("unrendered jinja in a requirement")
                if _SELECTOR.search(spec):
                    found.append("selector left in a requirement")
                if not spec.strip() or spec != spec.strip():
                    found.append("blank or padded requirement")
                parts = spec.split()
                if len(parts) > 1 and parts[1] in ("None", "none", "Undefined"):
                    found.append("'None' as a requirement version")
                if "  " in spec or "\n" in spec:
                    found.append("unfolded whitespace in a requirement")
            if set(out.variant) - set(job.variant):
                found.append("output variant not within its job's variant")
            seen[(out.name, out.version, out.build_number, tuple(sorted(out.variant.items())))] += 1
    if not render.variants and render.platform != "noarch":  # noarch keeps only noarch outputs
        found.append("no variants (neither rendered nor skipped)")
    if any(n > 1 for n in seen.values()):
        found.append("duplicated output")
    if render.platform == "noarch" and any(o.noarch is None for j in render.variants for o in j.outputs):
        found.append("non-noarch output in the noarch render")
    return sorted(set(found))


def notes(render: PlatformRender) -> list[str]:
    """Not wrong, but worth counting: the recipe's own gaps that a render carries (undefined
    Jinja names, a version that rendered to "None" because of one)."""
    found = []
    outs = [o for v in render.variants for o in v.outputs]
    if any(o.undefined_jinja for o in outs) or any(v.undefined_jinja for v in render.variants):
        found.append("undefined Jinja names (recorded)")
    if any(o.version == "None" for o in outs):
        found.append("version 'None' from an undefined name")
    return found


def _render_one(args: tuple[RecipeSource, RenderOptions]) -> list[dict[str, Any]]:
    source, options = args
    rows = []
    for r in render_recipe(source, TARGETS, options):
        row: dict[str, Any] = {"recipe": source.rel, "platform": r.platform}
        if r.error is not None:
            row["error"] = r.error.message
            row["line"] = r.error.line
        row["suspicious"] = suspicious(r)
        row["notes"] = notes(r)
        row["skipped"] = r.ok and all(v.skip for v in r.variants)
        row["variants"] = len(r.variants)
        rows.append(row)
    return rows


def scan(sets: Iterable[CorpusSet], jobs: int, limit: int | None = None) -> Iterable[tuple[str, dict]]:
    work: list[tuple[str, RecipeSource, RenderOptions]] = []
    for s in sets:
        sources = list(discover(s.root))[:limit]
        work.extend((s.name, src, s.options) for src in sources)
    names = [w[0] for w in work]
    args = [(w[1], w[2]) for w in work]
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for name, rows in zip(names, pool.imap(_render_one, args, chunksize=8), strict=True):
                for row in rows:
                    yield name, row
    else:
        for name, a in zip(names, args, strict=True):
            for row in _render_one(a):
                yield name, row


def summarize(rows: list[tuple[str, dict]], show: int) -> str:
    """A plain-text summary: renders, errors by class, suspicious results by class, with examples."""
    lines = []
    by_set: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    errors: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    susp: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for name, row in rows:
        c = by_set[name]
        c["renders"] += 1
        c["error"] += "error" in row
        c["skipped"] += row["skipped"]
        if "error" in row:
            errors[(name, error_class(row["error"]))].append(f"{row['recipe']}@{row['platform']}")
        for s in row["suspicious"]:
            susp[(name, s)].append(f"{row['recipe']}@{row['platform']}")
    for name, c in sorted(by_set.items()):
        lines.append(
            f"{name}: {c['renders']} renders, {c['error']} errors, {c['skipped']} skipped everywhere"
        )
    lines.append("\nerror classes (set, count, recipes, class):")
    for (name, cls), where in sorted(errors.items(), key=lambda kv: -len(kv[1])):
        recipes = sorted({w.split("@")[0] for w in where})
        lines.append(f"  {name:9} {len(where):6} {len(recipes):5}  {cls}")
        for w in recipes[:show]:
            lines.append(f"      {w}")
    lines.append("\nsuspicious classes (set, count, recipes, class):")
    for (name, cls), where in sorted(susp.items(), key=lambda kv: -len(kv[1])):
        recipes = sorted({w.split("@")[0] for w in where})
        lines.append(f"  {name:9} {len(where):6} {len(recipes):5}  {cls}")
        for w in recipes[:show]:
            lines.append(f"      {w}")
    notes_: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for name, row in rows:
        for n in row.get("notes", ()):
            notes_[(name, n)].add(row["recipe"])
    lines.append("\nnotes (set, recipes, class):")
    for (name, cls), recipes in sorted(notes_.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"  {name:9} {len(recipes):5}  {cls}")
        for w in sorted(recipes)[:show]:
            lines.append(f"      {w}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks robustness", description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=default_corpus())
    ap.add_argument("--set", choices=("bioconda", "anaconda"), action="append")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="the first N recipes of each set")
    ap.add_argument("--show", type=int, default=3, help="example recipes per class")
    ap.add_argument("--jsonl", type=Path, help="write every row here")
    ns = ap.parse_args(argv)
    sets = [s for s in corpus_sets(ns.corpus) if not ns.set or s.name in ns.set]
    t0 = time.perf_counter()
    rows = list(scan(sets, ns.jobs, ns.limit))
    elapsed = time.perf_counter() - t0
    if ns.jsonl:
        with ns.jsonl.open("w") as f:
            for name, row in rows:
                f.write(json.dumps({"set": name, **row}, sort_keys=True) + "\n")
    print(summarize(rows, ns.show))
    print(f"\n{len(rows)} renders in {elapsed:.0f} s with {ns.jobs} processes")
    return 1 if any(row["suspicious"] for _, row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
