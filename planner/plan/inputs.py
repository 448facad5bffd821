"""Gather what a plan is made from: config, recipes, renders, git changes, channel contents, files.

:func:`gather` is the I/O half of :func:`planner.plan.build.build_plan` (the pure half is
``assemble_plan``): it reads stackplan.yaml, discovers and renders recipes, asks git what changed,
reads the channel for ``--skip-existing`` and the skiplist / durations files, and hands back values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from planner.errors import PlanError
from planner.git.changes import (
    FileChange,
    GitError,
    changed_files,
    deleted_recipes,
    describe_paths,
    recipes_for_paths,
)
from planner.graph.snapshot import Linked
from planner.inputs.config import StackplanConfig
from planner.inputs.lists import load_durations, read_name_list
from planner.model import PlatformRender
from planner.plan.renders import Saver, plan_renders
from planner.plan.request import PlanRequest, PlanSettings, RecipeTree
from planner.plan.select import Selection
from planner.platforms import parse_platforms
from planner.progress import Reporter
from planner.render.budget import CLI_BUDGET, RenderBudget


def _config(request: PlanRequest) -> StackplanConfig:
    from planner.inputs.config import load_config

    try:
        return load_config(Path(request.root), request.config_path)
    except PlanError:
        raise
    except Exception as exc:  # a RecipeError (located) or an OSError: a clear message, no traceback
        raise PlanError(f"config: {exc}") from exc


def request_inputs(request: PlanRequest, platforms: tuple[str, ...]) -> dict[str, Any]:
    """The request as JSON-able values, recorded in the plan (what it was made from)."""
    return {
        "platforms": list(platforms),
        "changed": request.changed,
        "changed_files": str(request.changed_files) if request.changed_files else None,
        "packages": list(request.packages),
        "downstream": request.downstream,
        "upstream": request.upstream,
        "exclude": list(request.exclude),
        "skiplist": str(request.skiplist) if request.skiplist else None,
        "skip_existing": request.skip_existing,
        "channels": list(request.channels),
        "skip_existing_channels": list(request.existing_channels()),
        "strict_cycles": request.strict_cycles,
        "variant_configs": [str(p) for p in request.variant_configs],
        "exclusive_configs": [str(p) for p in request.exclusive_configs],
    }


def _changes(request: PlanRequest, root: Path) -> list[FileChange] | None:
    if request.changed:
        try:
            return changed_files(root, request.changed)
        except GitError as exc:
            raise PlanError(str(exc)) from exc
    if request.changed_files:
        changes = []
        for line in read_name_list(Path(request.changed_files)):
            path = Path(line)
            rel = path.resolve().relative_to(root.resolve()).as_posix() if path.is_absolute() else line
            exists = (root / rel).exists()
            changes.append(FileChange("M" if exists else "D", rel.removeprefix("./")))
        return changes
    return None


def gather(
    request: PlanRequest, reporter: Reporter, *, tree: RecipeTree | None = None
) -> tuple[list[PlatformRender] | Linked, Selection, PlanSettings, Saver | None]:
    """Read everything the request names; raise :class:`PlanError` for bad input.

    The renders may come as their :class:`Linked` graph (a snapshot of the same inputs); the saver,
    when not None, stores the linked graph of the renders for the next run (:mod:`planner.plan.renders`).

    ``tree`` (a :class:`planner.git.commit_tree.CommitTree`): the recipes are those of a git commit, laid
    out under the tree's directory (``request.root`` lies in it) and checked out only where a render
    needs them; git questions (what changed) are asked in the user's repository.
    """
    from planner.inputs.discover import discover

    root = Path(request.root)
    git_root = tree.outside(root) if tree is not None else root
    if not root.is_dir():
        raise PlanError("not a directory", root)
    cfg = _config(request)
    try:
        platforms = parse_platforms(tuple(request.platforms or cfg.platforms))
    except ValueError as exc:
        raise PlanError(str(exc)) from exc
    platforms = tuple(p for p in platforms if p != "noarch") or ("linux-64",)
    options = cfg.render_options(
        variant_configs=tuple(request.variant_configs), exclusive_configs=tuple(request.exclusive_configs)
    )
    variant_configs, exclusive = options.variant_configs, options.exclusive_configs
    for path in (*variant_configs, *exclusive):
        if not Path(path).is_file():
            raise PlanError("variant config not found", path)
    sources = tree.sources if tree is not None else discover(root)
    rels = [s.rel for s in sources]
    warnings: list[str] = []
    changed: dict[str, str] = {}
    changes = _changes(request, git_root)
    if changes is not None:
        gone = deleted_recipes(changes, rels)
        for rel in gone:
            warnings.append(f"recipe {rel} was deleted; nothing to build for it")
        kept = [c.path for c in changes if not any(c.path.startswith(g + "/") for g in gone)]
        for rel, paths in recipes_for_paths(kept, rels).items():
            changed[rel] = describe_paths(paths)
    changed_keys: dict[str, str] = {}
    if changes is not None:
        from planner.git.config_changes import changed_variant_keys

        configs = (*variant_configs, *exclusive)
        if tree is not None:  # configs outside the repository cannot have changed in git: not asked
            configs = tuple(tree.outside(Path(c)) for c in configs if tree.holds(Path(c)))
        changed_keys = changed_variant_keys(
            request.changed, request.changed_files, git_root, configs, platforms, cfg.environ
        )
    existing = None
    existing_channels = request.existing_channels()
    if request.skip_existing_inputs and not existing_channels:
        raise PlanError("--skip-existing without a CHANNEL looks in the input channels: give -c URL")
    if existing_channels:
        from planner.inputs.channel_index import (  # asyncio and friends: only here
            ChannelError,
            existing_packages,
        )

        try:
            existing = frozenset().union(
                *(existing_packages(ch, (*platforms, "noarch")) for ch in existing_channels)
            )
        except ChannelError as exc:
            raise PlanError(str(exc)) from exc
    skiplist_path = request.skiplist or cfg.skiplist
    skiplist = read_name_list(Path(skiplist_path)) if skiplist_path else ()
    durations, durations_from = _durations(request, cfg)
    providers: Mapping[str, str] = {**cfg.providers, **request.providers}
    selection = Selection(
        changed=changed,
        changed_keys=changed_keys,
        packages=tuple(request.packages),
        downstream=request.downstream,
        upstream=request.upstream,
        exclude=tuple(request.exclude),
        skiplist=skiplist,
        existing=existing,
        channel=", ".join(existing_channels),
        seeded=changes is not None,
    )
    if changes is not None and not (changed or changed_keys or request.packages):
        warnings.append("no recipe changed in the given range: nothing selected")
    settings = PlanSettings(
        root=str(request.root),
        platforms=platforms,
        noarch_platform=request.noarch_platform or cfg.noarch_platform,
        build_platforms=dict(cfg.build_platforms),
        providers=providers,
        strict_cycles=request.strict_cycles,
        durations=durations,
        gpu_variant_keys=tuple(cfg.gpu_variant_keys),
        inputs={**request_inputs(request, platforms), "durations": durations_from},
        warnings=tuple(warnings),
    )
    renders, saver = plan_renders(
        sources,
        platforms,
        options,
        root=root,
        cache_dir=request.cache_dir,
        settings=settings,
        reporter=reporter,
        jobs=request.jobs,
        tree=tree,
        budget=_budget(request, cfg),
    )
    return renders, selection, settings, saver


def _durations(request: PlanRequest, cfg: StackplanConfig) -> tuple[dict[str, float] | None, str]:
    """The job durations of the critical path and makespan, and where they came from (the plan's
    ``inputs.durations``, said in the summary): ``--durations FILE``, else stackplan.yaml's
    ``durations:``, else what was learned from Prefect's history (the request carries it: learning
    reads Prefect's API or the state directory's cache, which the planner does not), else none (each
    job counts as one)."""
    if request.durations:
        return load_durations(Path(request.durations)), f"--durations {request.durations}"
    if cfg.durations:
        return load_durations(Path(cfg.durations)), f"stackplan.yaml durations: {cfg.durations}"
    if request.learned_durations:
        return dict(request.learned_durations), request.learned_from or "learned from history"
    return None, request.learned_from or "none (each job counts as one)"  # it may say why none


def _budget(request: PlanRequest, cfg: StackplanConfig) -> RenderBudget:
    """The render budget: the request's own (``stackplan serve``: strict, whatever the recipe tree's
    stackplan.yaml says), else the command line's default, overridden by ``render_budget:`` in
    stackplan.yaml, then by the command line flags."""
    if request.budget is not None:
        return request.budget
    return CLI_BUDGET.with_overrides(
        **{**cfg.render_budget, **(request.budget_flags or {})}
    )
