"""Render speed: the bioconda corpus on four platforms with the conda-forge pinning (issue 2, item 8).

What it measures, all without the render cache (this is the renderer's own speed):

- per recipe-platform time, one process: each recipe dir of a deterministic sample (every k-th; the
  whole corpus with ``--sample 0``) is rendered for all four platforms in one ``render_recipe`` call
  (templates compiled once, rendered per platform) and the time divided by four; the median and p90;
- the whole corpus on ``--jobs`` processes (``render_all(..., jobs=N, cache=None)``): wall time,
  renders per second (recipe-platforms / wall), the median of ``--runs`` runs;
- peak memory of the process tree (the caller plus its workers, sampled from /proc) and ``ru_maxrss``.

Targets (issue 2): median <= 2 ms per recipe-platform, whole corpus <= 60 s on 2 processes, peak RSS
<= 2 GiB. Figures go to docs/benchmarks.md (section ``render_speed``) unless ``--no-write``.

    python -m benchmarks render_speed [--limit 500] [--runs 3] [--jobs 2] [--sample 1000]
"""

from __future__ import annotations

import argparse
import sys
import time

from benchmarks import (
    CORPUS,
    GIB,
    PROJECT,
    PeakRss,
    Timer,
    fmt_bytes,
    machine_line,
    maxrss_self_children,
    median,
    write_section,
)

PLATFORMS = ("linux-64", "osx-64", "osx-arm64", "linux-aarch64")
CONFIGS = ("config/conda-forge-pinning.yaml", "config/bioconda_utils-conda_build_config.yaml")


def corpus_sources(limit: int | None = None):
    """The bioconda recipe dirs of the corpus (found by ``planner.inputs.discover``), the first ``limit``."""
    from planner.inputs.discover import discover

    sources = discover(CORPUS / "bioconda")
    return sources[:limit] if limit else sources


def corpus_options():
    from planner.model import RenderOptions

    return RenderOptions(exclusive_configs=tuple(CORPUS / c for c in CONFIGS))


def per_recipe_platform_ms(sources, options, platforms=PLATFORMS) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds per recipe-platform for each source, rendered in this process.

    The CPU time is what the render costs whatever else the machine runs; the wall time is what a
    user waits on this machine at this load.
    """
    from planner.render.recipe import render_recipe

    wall, cpu = [], []
    for s in sources:
        t0, c0 = time.perf_counter(), time.process_time()
        render_recipe(s, platforms, options)
        wall.append((time.perf_counter() - t0) * 1000 / len(platforms))
        cpu.append((time.process_time() - c0) * 1000 / len(platforms))
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks render_speed", description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N recipe dirs (default: all)")
    ap.add_argument("--runs", type=int, default=3, help="whole-corpus runs; the median is reported")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the whole-corpus run (default 2)")
    ap.add_argument("--sample", type=int, default=1000, help="recipes timed one by one (0: all)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    if not (CORPUS / "bioconda" / "recipes").is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2

    from planner.render.recipe import render_all

    options = corpus_options()
    with Timer() as t_discover:
        sources = corpus_sources(args.limit)
    n = len(sources)
    step = max(1, n // args.sample) if args.sample else 1
    sample = sources[::step]
    per, per_cpu = per_recipe_platform_ms(sample, options)
    per_sorted = sorted(per)
    p90 = per_sorted[int(0.9 * (len(per_sorted) - 1))] if per_sorted else float("nan")

    walls: list[float] = []
    cpus: list[float] = []
    errors = 0
    peak = 0
    for _ in range(args.runs):
        with PeakRss() as rss, Timer() as t:
            renders = render_all(sources, PLATFORMS, options, jobs=args.jobs, cache=None)
        walls.append(t.seconds)
        cpus.append(rss.cpu_seconds)
        peak = max(peak, rss.peak)
        errors = sum(1 for r in renders if not r.ok)
    self_max, _ = maxrss_self_children()  # workers are the forkserver's children, not ours
    wall = median(walls)
    pairs = n * len(PLATFORMS)
    med = median(per)
    ok = med <= 2.0 and (args.limit or wall <= 60) and peak <= 2 * GIB
    idle_wall = median(cpus) / args.jobs
    ok_cpu = median(per_cpu) <= 2.0 and (args.limit or idle_wall <= 60) and peak <= 2 * GIB
    table = [
        "| figure | value | target |",
        "|---|---|---|",
        f"| recipe dirs | {n} ({'limited' if args.limit else 'whole corpus'}) | 9,323 |",
        f"| median ms per recipe-platform (1 process, {len(sample)} recipes x 4 platforms) | "
        f"{med:.2f} ms wall (p90 {p90:.2f} ms); {median(per_cpu):.2f} ms CPU | <= 2 ms |",
        f"| whole run wall, {args.jobs} processes (median of {len(walls)}: "
        f"{', '.join(f'{w:.1f}' for w in walls)} s) | {wall:.1f} s | <= 60 s |",
        f"| renders per second (recipe-platforms / wall) | {pairs / wall:.0f} | |",
        f"| CPU time of the whole run, all processes (median) | {median(cpus):.1f} s = "
        f"{median(cpus) * 1000 / pairs:.2f} ms per recipe-platform; on an idle {args.jobs}-core machine "
        f"~{median(cpus) / args.jobs:.0f} s wall | |",
        f"| recipe-platforms with an error | {errors} of {pairs} | |",
        f"| peak RSS, process tree (sampled) | {fmt_bytes(peak)} | <= 2 GiB |",
        f"| ru_maxrss of the calling process | {fmt_bytes(self_max)} | |",
        f"| discover | {t_discover.seconds * 1000:.0f} ms | |",
    ]
    md = "\n".join(
        [
            "### Render speed (issue 2, item 8)",
            "",
            f"Measured {machine_line()}.",
            "Platforms linux-64, osx-64, osx-arm64, linux-aarch64; exclusive configs "
            "`config/conda-forge-pinning.yaml` + `config/bioconda_utils-conda_build_config.yaml`; no render "
            f"cache. Rerun: `python -m benchmarks render_speed --runs {args.runs} --jobs {args.jobs}`.",
            "",
            *table,
            "",
            f"Verdict on the wall clock at this load: {'all targets met' if ok else 'NOT all targets met'}; "
            f"on CPU time (what an idle machine would show): "
            f"{'all targets met' if ok_cpu else 'NOT all targets met'}.",
        ]
    )
    print(md)
    if not args.no_write:
        write_section(PROJECT / "docs" / "benchmarks.md", "render_speed", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
