"""``python -m benchmarks NAME [args]`` runs one benchmark; ``python -m benchmarks`` lists them.

Each benchmark is a module of this package with ``main(argv: list[str] | None = None) -> int`` that
prints its figures and writes them into its docs file. ``python -m benchmarks all`` runs every one that
exists with its default arguments (long: the full runs take many minutes on a 2-core machine).
"""

from __future__ import annotations

import importlib
import sys

#: name -> (module, the docs file it writes its figures into)
BENCHMARKS: dict[str, tuple[str, str]] = {
    "fidelity": ("benchmarks.fidelity", "docs/fidelity.md"),
    "graph_truth": ("benchmarks.graph_truth", "docs/graph-truth.md"),
    "render_speed": ("benchmarks.render_speed", "docs/benchmarks.md"),
    "scale": ("benchmarks.scale", "docs/benchmarks.md"),
    "instructions": ("benchmarks.instructions", "docs/benchmarks.md"),
    "plan_speed": ("benchmarks.plan_speed", "docs/bench-plan.md"),
    "flow_overhead": ("benchmarks.flow_overhead", "docs/bench-flows.md"),
    "graph_page": ("benchmarks.graph_page", "docs/commands/graph.md"),
    "robustness": ("benchmarks.robustness", "docs/robustness.md"),
    "v1_speed": ("benchmarks.v1_speed", "docs/robustness.md"),
    "gen_ecosystem": ("benchmarks.gen_ecosystem", "(a generator: writes a synthetic recipe tree)"),
}


def _load(name: str):
    module = BENCHMARKS[name][0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def _summary(mod) -> str:
    doc = (mod.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


def list_benchmarks() -> None:
    print("usage: python -m benchmarks NAME [args]   (NAME --help for its options; `all` runs each)\n")
    for name, (_, docs) in BENCHMARKS.items():
        mod = _load(name)
        state = _summary(mod) if mod is not None else "(not written yet)"
        print(f"  {name:<14} {state}\n  {'':<14} -> {docs}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "list"):
        list_benchmarks()
        return 0
    name, rest = args[0], args[1:]
    if name == "all":
        worst = 0
        for each in BENCHMARKS:
            mod = _load(each)
            if mod is None or each == "gen_ecosystem":
                continue
            print(f"== {each}", flush=True)
            worst = max(worst, int(mod.main(rest) or 0))
        return worst
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    mod = _load(name)
    if mod is None:
        print(f"benchmark {name!r} is not written yet ({BENCHMARKS[name][0]})", file=sys.stderr)
        return 2
    return int(mod.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
