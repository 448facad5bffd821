"""One rattler-build job in a child process: ``python -m flows.builders.rattler_job SPEC.json``.

Why a child process: a build's log must reach Prefect line by line while it runs (the child's output
is read as it comes), a crash of the native build code must not take the flow down, and the parent
can tell a recipe's own failure from a broken tool by the exit code.

Native targets build through ``Stage0Recipe.from_file(...).run_build(...)`` with a progress callback
that prints each log line. For a cross target (e.g. osx-arm64 from linux-64) that call resolves the
host environment for the machine's platform in py-rattler-build 0.73, so cross targets go through
``cli_api.build_recipes`` with explicit host/target platforms, which resolves host for the target.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_RECIPE = 10
EXIT_INFRA = 20
RESULT_PREFIX = "STACKPLAN-RESULT "

#: Substrings of py-rattler-build errors that mean "the recipe failed", not "the tool broke".
RECIPE_ERRORS = (
    "Script failed",
    "Failed to resolve",
    "RecipeParseError",
    "failed to parse",
    "Parsing",
    "Cannot solve",
    "No candidates",
    "cannot be installed",
    "test failed",
    "Tests failed",
)


class _PrintCallback:
    """A py-rattler-build progress callback that prints log lines (the parent streams them)."""

    def on_download_start(self, event: Any) -> None:
        pass

    def on_download_progress(self, event: Any) -> None:
        pass

    def on_download_complete(self, event: Any) -> None:
        pass

    def on_build_step(self, event: Any) -> None:
        print(f"[{event.step_name}] {event.message}", flush=True)

    def on_log(self, event: Any) -> None:
        for line in str(event.message).splitlines():
            print(line, flush=True)


def classify(exc: BaseException) -> int:
    text = f"{type(exc).__name__}: {exc}"
    if any(s.lower() in text.lower() for s in RECIPE_ERRORS):
        return EXIT_RECIPE
    return EXIT_INFRA


def run_tests(spec: dict[str, Any]) -> list[str]:
    """Run every test of each package in ``spec["packages"]``; fail on the first failing one."""
    from rattler_build import Package

    for path in spec["packages"]:
        results = Package.from_file(path).run_tests(
            channel=spec["channels"], progress_callback=_PrintCallback()
        )
        failed = [r.test_index for r in results if not r.success]
        if failed:
            raise RuntimeError(f"Tests failed: {Path(path).name} test(s) {failed}")
        print(f"{Path(path).name}: {len(results)} test(s) passed", flush=True)
    return []


def run(spec: dict[str, Any]) -> list[str]:
    """Build the recipe described by ``spec``; return the package files written."""
    if spec.get("mode") == "test":
        return run_tests(spec)
    from rattler import Platform
    from rattler_build import PlatformConfig, RenderConfig, Stage0Recipe, ToolConfiguration, VariantConfig

    recipe = Path(spec["recipe"])
    target = spec["target_platform"]
    out = Path(spec["output_dir"])
    channels = list(spec["channels"])
    variant = {k: [v] for k, v in (spec.get("variant") or {}).items()}
    machine = str(Platform.current())
    test = spec.get("test_strategy", "skip")
    if target in (machine, "noarch"):
        pc = PlatformConfig(target_platform=machine if target == "noarch" else target)
        vc = VariantConfig(variant) if variant else VariantConfig()
        results = Stage0Recipe.from_file(recipe).run_build(
            variant_config=vc,
            tool_config=ToolConfiguration(test_strategy=test),
            output_dir=out,
            channels=channels,
            progress_callback=_PrintCallback(),
            render_config=RenderConfig(platform=pc),
        )
        return sorted(str(p) for r in results for p in r.packages)
    from rattler_build.cli_api import build_recipes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        build_recipes(
            [recipe],
            target_platform=target,
            host_platform=target,
            build_platform=machine,
            channel=channels,
            variant_overrides={k: [str(x) for x in v] for k, v in variant.items()} or None,
            output_dir=out,
            test="skip" if test == "skip" else "native",
        )
    return sorted(str(p) for p in out.glob("*/*.conda"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    try:
        packages = run(spec)
    except Exception as exc:
        print(f"build failed: {type(exc).__name__}: {exc}", flush=True)
        code = classify(exc)
        print(RESULT_PREFIX + json.dumps({"ok": False, "kind": code, "error": str(exc)}), flush=True)
        return code
    print(RESULT_PREFIX + json.dumps({"ok": True, "packages": packages}), flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
