"""Instructions, not seconds: a cold plan of a corpus sample counted by callgrind, at several revisions.

Why: on these shared 2-core machines the same code's cold corpus plan varies by 15-25% in wall and CPU
seconds from one run to the next (measured 2026-12-02: 6c23c9f took 71 to 90 CPU seconds on the same
input), so a change of a few percent cannot be seen in seconds however many runs are interleaved.
valgrind's callgrind counts the instructions executed: the same for the same code, input and
environment, whatever else the machine is doing. It is the before/after check for a refactor that must
not make the render slower.

What is measured: every Nth recipe dir of the bioconda corpus (``--every``, default 30: 311 dirs),
copied into a temporary tree and planned cold (an empty render cache) on the corpus benchmark's four
platforms with its configs, by ``benchmarks.scale``'s measuring process (``--one``) of the revision
under test, in one process (``--jobs 1``). Each ``--against REV`` is checked out with ``git worktree
add`` into a temporary directory and measured with the same interpreter; the revisions run at the same
time (the counts do not depend on load). The plans' node counts must agree.

Two things would make the counts lie, and are ruled out: Python compiling the modules of a fresh
checkout (every ``.py`` is byte-compiled first, in every checkout, so no run pays for it), and render
worker processes (their split of the work changes from run to run, and a forkserver killed at exit
leaves no count: measured here, a two-process run lost 2 of its 5 processes' counts once).

    python -m benchmarks instructions --against 6c23c9f [--against HEAD~3] [--every 30]

Needs ``valgrind`` (Debian: ``apt-get install valgrind``). Under callgrind a run takes about 50 times
its normal time: about 3 minutes for the default sample.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks import CORPUS, PROJECT, machine_line, write_section
from benchmarks.scale import corpus_spec

_SUMMARY = re.compile(r"^summary:\s+(\d+)\s*$", re.MULTILINE)


@dataclass
class Count:
    """What one revision executed: instructions per process and the plan it made."""

    label: str
    processes: list[int]
    nodes: int | None

    @property
    def total(self) -> int:
        return sum(self.processes)


def sample_tree(every: int, dest: Path) -> int:
    """Copy every ``every``-th recipe dir of the bioconda corpus (discovery order) into ``dest``."""
    from planner.inputs.discover import discover  # the project is on the path: benchmarks is in it

    root = CORPUS / "bioconda"
    sources = discover(root)[::every]
    for source in sources:
        shutil.copytree(root / source.rel, dest / source.rel, symlinks=True)
    return len(sources)


def compile_checkout(checkout: Path) -> None:
    """Byte-compile a checkout's packages, so that no measured run spends instructions compiling."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "planner", "flows", "stackplan", "benchmarks"],
        cwd=checkout,
        check=True,
        capture_output=True,
    )


def start_count(label: str, checkout: Path, tree: Path, work: Path) -> subprocess.Popen:
    """Start ``benchmarks scale --one`` of ``checkout`` under callgrind, in one process."""
    out = work / label.replace("/", "_")
    (out / "cache").mkdir(parents=True)
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}/callgrind.%p",
        sys.executable,
        "-m",
        "benchmarks",
        "scale",
        "--one",
        json.dumps(corpus_spec(tree, jobs=1, cache_dir=str(out / "cache"))),
    ]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(checkout), "HOME": str(out), "LC_ALL": "C.UTF-8"}
    return subprocess.Popen(
        cmd, cwd=checkout, env=env, stdout=(out / "stdout").open("w"), stderr=(out / "stderr").open("w")
    )


def read_count(label: str, work: Path) -> Count:
    """The instruction counts of every process of one run, and the node count of its plan."""
    out = work / label.replace("/", "_")
    processes = [
        int(m.group(1)) for f in sorted(out.glob("callgrind.*")) for m in _SUMMARY.finditer(f.read_text())
    ]
    nodes = None
    lines = (out / "stdout").read_text().strip().splitlines()
    if lines:
        with contextlib.suppress(json.JSONDecodeError):
            nodes = json.loads(lines[-1]).get("nodes")
    if not processes or nodes is None:
        tail = (out / "stderr").read_text()[-2000:]
        raise RuntimeError(f"{label}: the measured run failed:\n{tail}")
    return Count(label, processes, nodes)


def report(counts: list[Count], sample: int, every: int) -> str:
    base = counts[0]
    rows = [
        "| revision | instructions | plan nodes | vs first |",
        "|---|---:|---:|---:|",
    ]
    for c in counts:
        rows.append(f"| {c.label} | {c.total / 1e9:.3f} G | {c.nodes} | {c.total / base.total:.3f} |")
    return "\n".join(
        [
            f"Measured {machine_line()}. Rerun: `python -m benchmarks instructions "
            + " ".join(f"--against {c.label}" for c in counts[:-1])
            + f" --every {every}`.",
            "",
            f"#### Instructions of a cold plan: every {every}th bioconda recipe dir ({sample} dirs), "
            "4 platforms, one process",
            "",
            *rows,
            "",
            "Counted by valgrind's callgrind (the same for the same code and input, whatever the load); "
            "interpreter start and imports included, byte-compiling excluded.",
        ]
    )


def _rev_label(rev: str) -> str:
    """The short commit id of ``rev``; ValueError when git knows no such commit."""
    sha = subprocess.run(
        [
            "git",
            "-C",
            str(PROJECT),
            "rev-parse",
            "--short",
            "--verify",
            "--end-of-options",
            f"{rev}^{{commit}}",
        ],
        capture_output=True,
        text=True,
    )
    if sha.returncode != 0:
        raise ValueError(f"unknown revision {rev!r}: {sha.stderr.strip()}")
    return sha.stdout.strip()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _this_label() -> str:
    """This checkout's commit, marked when the working tree has changes the count includes."""
    dirty = subprocess.run(
        ["git", "-C", str(PROJECT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{_rev_label('HEAD')} (this checkout{', with uncommitted changes' if dirty else ''})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks instructions",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--against", action="append", default=[], metavar="REV", help="a git revision to compare (repeats)"
    )
    ap.add_argument(
        "--every", type=_positive, default=30, metavar="N", help="take every Nth recipe dir (default 30)"
    )
    ap.add_argument("--no-write", action="store_true", help="print only; do not update docs/benchmarks.md")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("instructions: valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    if not (CORPUS / "bioconda").is_dir():
        print(f"instructions: no bioconda corpus at {CORPUS} (set STACKPLAN_CORPUS)", file=sys.stderr)
        return 2
    try:
        labels = [_rev_label(rev) for rev in args.against]
    except ValueError as exc:
        print(f"instructions: {exc}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="stackplan-instructions-"))
    worktrees: list[Path] = []
    try:
        tree = work / "sample"
        sample = sample_tree(args.every, tree)
        checkouts: list[tuple[str, Path]] = []
        for label in labels:
            path = work / f"rev-{label}"
            subprocess.run(
                ["git", "-C", str(PROJECT), "worktree", "add", "--detach", str(path), label],
                check=True,
                capture_output=True,
            )
            worktrees.append(path)
            checkouts.append((label, path))
        checkouts.append((_this_label(), PROJECT))
        print(f"counting {len(checkouts)} revision(s) on {sample} recipe dirs under callgrind (minutes)...")
        for _, path in checkouts:
            compile_checkout(path)
        procs = [(label, start_count(label, path, tree, work)) for label, path in checkouts]
        for _, proc in procs:
            proc.wait()
        counts = [read_count(label, work) for label, _ in procs]
        if len({c.nodes for c in counts}) != 1:
            print(
                "instructions: the revisions made different plans: "
                + ", ".join(f"{c.label} {c.nodes}" for c in counts),
                file=sys.stderr,
            )
        text = report(counts, sample, args.every)
        print(text)
        if not args.no_write:
            write_section(PROJECT / "docs" / "benchmarks.md", "instructions", text)
    finally:
        for path in worktrees:
            subprocess.run(
                ["git", "-C", str(PROJECT), "worktree", "remove", "--force", str(path)], capture_output=True
            )
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
