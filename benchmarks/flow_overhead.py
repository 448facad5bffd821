"""Orchestration overhead of the flows: zero-length dry-run jobs through the embedded Prefect server.

For a layered plan of N jobs (default 3,000 and 10,000) it measures, per run: wall time of the main
flow divided by N (the orchestration overhead per job, since the jobs themselves take no time), the
peak RSS of this process and of the server, and how long after the flow's end the server's API shows
every job's final state. Each size runs ``--repeat`` times; medians go to docs/bench-flows.md.

    python -m benchmarks flow_overhead            # or: python -m benchmarks.flow_overhead --quick
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import cpu_ticks, process_tree
from flows.run.backpressure import DEFAULT_WINDOW
from flows.run.lanes import DEFAULT_CHUNK_SIZE

DOC = Path(__file__).resolve().parents[1] / "docs" / "bench-flows.md"


def _server_hwm_kib(pid: int | None) -> int:
    """Peak RSS (VmHWM) of the server's process tree, in KiB."""
    if pid is None:
        return 0
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _cpu_s(server_pid: int | None) -> tuple[float, float]:
    """CPU seconds used so far by this process (every thread) and by the server process."""
    server = cpu_ticks(server_pid) / os.sysconf("SC_CLK_TCK") if server_pid is not None else 0.0
    return time.process_time(), server


def measure(
    jobs: int, parallelism: int, chunk_size: int, tag_jobs: bool, server_pid: int | None, window: int
) -> dict:
    from flows.run.runner import run_plan, wait_recorded
    from flows.run.synthetic import layered_plan

    plan = layered_plan(jobs, width=100, fan_in=2, duration=0.0, seed=jobs)
    with tempfile.TemporaryDirectory() as tmp:
        cpu0 = _cpu_s(server_pid)
        t0 = time.perf_counter()
        result = run_plan(
            plan,
            builder="dry-run",
            channel=tmp,
            parallelism=parallelism,
            options={
                "builder_options": {"time_scale": 0},
                "chunk_size": chunk_size,
                "tag_jobs": tag_jobs,
                "max_unrecorded": window,
                "retry_delay": 0,
                "report": False,
            },
        )
        t1 = time.perf_counter()
        recorded, counts = wait_recorded(result.report, timeout=180)
        t2 = time.perf_counter()
        cpu2 = _cpu_s(server_pid)
    done = sum(1 for j in result.report["jobs"] if j["state"] == "Completed")
    return {
        "jobs": jobs,
        "load": os.getloadavg()[0],
        "ok": result.ok and done == jobs,
        "wall_s": t1 - t0,
        "per_job_ms": (t1 - t0) / jobs * 1000,
        "recorded": recorded,
        "recorded_final": sum(counts.values()),
        "record_lag_s": t2 - t1,
        "cpu_ms": (cpu2[0] - cpu0[0] + cpu2[1] - cpu0[1]) / jobs * 1000,
        "client_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "server_peak_rss_mib": _server_hwm_kib(server_pid) / 1024,
        "flow_runs": len({j["flow_run"] for j in result.report["jobs"]}),
    }


def baseline(jobs: int, parallelism: int, shaped: bool = True, server_pid: int | None = None) -> dict:
    """Bare Prefect on the same server and machine load: ``jobs`` no-op tasks, each waiting for two
    of the previous layer of 100 (like the plan; ``shaped=False``: no ``wait_for`` at all, Prefect's
    plain task overhead), through the same bounded thread pool. Returns ms per task, the seconds from
    the flow's end until the server recorded all its task runs (the next measurement starts on a
    server that is done with this one) and the CPU (client and server) per task until then."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.task_runners import ThreadPoolTaskRunner

    from flows.run.backpressure import RecordedCounter

    @task(cache_policy=NO_CACHE, persist_result=False)
    def noop(i: int) -> int:
        return i

    @flow(persist_result=False)
    def bare(n: int) -> None:
        futures = []
        with ThreadPoolTaskRunner(max_workers=parallelism) as runner:
            for i in range(n):
                layer = i // 100 if shaped else 0
                deps = [futures[(layer - 1) * 100 + (i * 7 + k) % 100] for k in (0, 1)] if layer else []
                futures.append(runner.submit(noop, {"i": i}, wait_for=deps))
            for f in futures:
                f.wait()

    cpu0 = _cpu_s(server_pid)
    t0 = time.perf_counter()
    state = bare(jobs, return_state=True)
    t1 = time.perf_counter()
    with RecordedCounter(str(state.state_details.flow_run_id)) as count:
        while count() < jobs and time.perf_counter() - t1 < 300:
            time.sleep(0.25)
    cpu2 = _cpu_s(server_pid)
    return {
        "ms": (t1 - t0) / jobs * 1000,
        "lag_s": time.perf_counter() - t1,
        "cpu_ms": (cpu2[0] - cpu0[0] + cpu2[1] - cpu0[1]) / jobs * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="flow_overhead", description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, nargs="+", default=[3000, 10000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repeat-big", type=int, default=1, help="repeats of sizes above 5,000 jobs")
    ap.add_argument("--parallelism", type=int, default=8)
    ap.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    ap.add_argument(
        "--max-unrecorded", type=int, default=DEFAULT_WINDOW, help="backpressure window (jobs; 0: off)"
    )
    ap.add_argument("--tagged-jobs", type=int, default=3000, help="size of the extra run with per-job tags")
    ap.add_argument("--quick", action="store_true", help="300 and 1,000 jobs, one repeat (smoke test)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.jobs, args.repeat, args.tagged_jobs = [300, 1000], 1, 50
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL", "CRITICAL")
    from flows.server.embedded import prefect_api

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as home, prefect_api(Path(home), echo=False) as server:
        measure(100, args.parallelism, args.chunk_size, False, server.pid, args.max_unrecorded)  # warm up
        sizes = [(n, False) for n in args.jobs] + ([(args.tagged_jobs, True)] if args.tagged_jobs else [])
        for n, tagged in sizes:
            repeat = 1 if tagged else args.repeat if n <= 5000 else args.repeat_big
            runs = []
            for _ in range(repeat):
                runs.append(
                    measure(n, args.parallelism, args.chunk_size, tagged, server.pid, args.max_unrecorded)
                )
                if n <= 5000:
                    bare = baseline(n, args.parallelism, server_pid=server.pid)
                    runs[-1].update(baseline_ms=bare["ms"], baseline_lag_s=bare["lag_s"])
                    runs[-1]["baseline_cpu_ms"] = bare["cpu_ms"]
                    runs[-1]["plain_ms"] = baseline(n, args.parallelism, shaped=False)["ms"]
            rows.append(_median(runs, tagged=tagged))
            print(rows[-1], flush=True)
    if not args.no_write:
        _write(rows, args)
    ok = all(r["ok"] and r["recorded"] for r in rows)
    return 0 if ok else 1


def _median(runs: list[dict], tagged: bool) -> dict:
    keys = {k for r in runs for k, v in r.items() if isinstance(v, float)}
    out = {k: statistics.median(r[k] for r in runs if k in r) for k in keys}
    out.update(
        jobs=runs[0]["jobs"],
        ok=all(r["ok"] for r in runs),
        recorded=all(r["recorded"] for r in runs),
        recorded_final=min(r["recorded_final"] for r in runs),
        flow_runs=runs[0]["flow_runs"],
        repeats=len(runs),
        tagged=tagged,
    )
    return out


def _write(rows: list[dict], args: argparse.Namespace) -> None:
    load = os.getloadavg()
    lines = [
        "# Flow overhead (benchmarks/flow_overhead.py)",
        "",
        "Zero-length dry-run jobs in a layered plan (100 jobs per layer, 2 upstreams each) run by the",
        "`stackplan-build` flow through the embedded Prefect server (SQLite; task-run recorder batches of",
        '200 flushed every second; event persister off: see docs/flows.md, "The embedded server").',
        f"Parallelism {args.parallelism} threads per platform, chunks of at most {args.chunk_size:,} jobs",
        f"per subflow run, backpressure window {args.max_unrecorded:,} jobs (flows/run/backpressure.py).",
        "Medians of the repeats. *Overhead per job*: the flow's wall time divided by the jobs.",
        "*Record lag*: from the flow's end until the API shows every job's final state. *Load*: the",
        "1-minute load average at the end of the run.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores "
        f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} when written, the benchmark's own "
        "server and client included: a Prefect server and a flow keep ~2-4 processes busy); "
        f"Python {sys.version.split()[0]}, Prefect {_prefect_version()}.",
        "",
        "| jobs | job tags | repeats | flow runs | overhead per job (ms) | bare Prefect (ms) | ratio "
        "| plain Prefect task (ms) | CPU per job, ours / bare (ms) | floor: CPU / cores (ms) "
        "| wall (s) | record lag (s) | bare record lag (s) | recorded | load "
        "| client peak RSS (MiB) | server peak RSS (MiB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['jobs']:,} | {'yes' if r['tagged'] else 'no'} | {r['repeats']} | {r['flow_runs']} "
            f"| {r['per_job_ms']:.1f} | {_fmt(r.get('baseline_ms'))} "
            f"| {_fmt(r['per_job_ms'] / r['baseline_ms'] if r.get('baseline_ms') else None, 2)} "
            f"| {_fmt(r.get('plain_ms'))} | {r['cpu_ms']:.1f} / {_fmt(r.get('baseline_cpu_ms'))} "
            f"| {r['cpu_ms'] / (os.cpu_count() or 1):.1f} "
            f"| {r['wall_s']:.1f} | {r['record_lag_s']:.1f} | {_fmt(r.get('baseline_lag_s'))} "
            f"| {r['recorded_final']:,}/{r['jobs']:,} | {r['load']:.1f} | {r['client_peak_rss_mib']:.0f} "
            f"| {r['server_peak_rss_mib']:.0f} |"
        )
    lines += [
        "",
        "*Bare Prefect*: as many no-op tasks with the same wait_for shape through the same bounded",
        "thread pool and server, measured right after each run (and waited for until the server recorded",
        "them, so every measurement starts on an idle server): the machine's load moves both alike, so the",
        "ratio is the figure to compare across machines. Bare Prefect leaves its backlog to the server",
        "(*bare record lag*); the stackplan flow cannot: a subflow's final state and the next chunk's",
        "subflow run are orchestrated by the server, which answers them only after working off the events",
        "queued before, so whatever the server has not recorded by then lands in the flow's wall time.",
        "On this machine both are bound by how fast the server records (~3 events per job on SQLite).",
        "*Plain Prefect task*: the same number of no-op tasks with no `wait_for` at all, right after:",
        "Prefect's own task overhead on the machine as it was during the run (the issue quotes ~4 ms).",
        "*CPU per job*: CPU seconds of the client (every thread) and of the server process from the",
        "flow's start until every state was recorded, per job. Client and server share the machine's",
        "cores, so *CPU / cores* is the least wall time per job any schedule could reach with every",
        "state recorded: a floor set by Prefect's own cost per task, which bare Prefect pays as well.",
        "",
        "Targets (issue 4): <= 6 ms per job, peak RSS <= 1 GiB, every state readable within 10 s of the",
        "flow's end, no record lost at 10,000 jobs. Job tags (`platform:`, `package:`, `plan:`, `pr:`,",
        "`recipe:`) are on by default; job task runs are created untagged and tag themselves when they",
        'start (docs/flows.md, "Tags"), so the tagged row costs what the untagged one does: before that,',
        "Prefect's tag-concurrency check cost ~150-200 ms per tagged job.",
        "",
    ]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("\n".join(lines))


def _fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _prefect_version() -> str:
    import prefect

    return prefect.__version__


if __name__ == "__main__":
    sys.exit(main())
