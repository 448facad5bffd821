"""Relink a graph snapshot after a few recipes changed, instead of linking the whole tree again.

A pull request changes a few recipes of thousands. :func:`relink` takes the last snapshot of the same
settings (:mod:`planner.graph.snapshot`: its graph, its render errors per recipe and what linking
each job found, :data:`planner.graph.link.JobLinks`) and the renders of the recipes whose render key
changed, and builds the graph the full :func:`planner.plan.build.link` would build:

- jobs of unchanged recipes are taken from the snapshot, jobs of changed ones made from their renders;
- a job's links depend only on the job and on the provider index entries of the names it asks for,
  and only the names the changed recipes provide (before or after) have different entries; so every
  job that asks for none of those names keeps its links, and only the others (the changed recipes'
  jobs and the jobs that need one of their names) are linked again;
- everything is then folded in id order exactly as a full link folds it (first-seen ambiguities,
  unsatisfied order), and the noarch run edges are recomputed over the whole graph.

When a changed job's id collides with an unchanged one's (two recipes building the same
name-version-build with the same variant get salted ids, see ``planner.graph.link._unique_ids``), ids of
unchanged jobs could change: :func:`relink` then returns None and the caller links everything.
``tests/test_graph_snapshot.py`` holds the result byte-identical to a full link over random edits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from planner.graph.link import build_graph, jobs_from_renders
from planner.graph.snapshot import Linked, sorted_errors
from planner.model import PlatformRender


def _head(job_id: str) -> str:
    return job_id.rsplit("[", 1)[0]


def relink(
    base: Linked,
    base_links: Mapping[str, tuple],
    changed: Collection[str],
    renders: Iterable[PlatformRender],
    settings,
) -> Linked | None:
    """The :class:`Linked` of the tree whose recipes ``changed`` (rels: edited, added or deleted) now
    render to ``renders`` and whose other recipes are as in ``base``; None when it cannot be patched."""
    renders = list(renders)
    changed = set(changed)
    graph = base.result.graph
    old = [data["job"] for _, data in graph.nodes(data=True)]
    keep = [j for j in old if j.recipe not in changed]
    gone = [j for j in old if j.recipe in changed]
    new = jobs_from_renders(
        [v for r in renders if r.ok for v in r.variants],
        noarch_platform=settings.noarch_platform,
        build_platforms=settings.build_platforms,
    )
    kept_heads = {_head(j.id) for j in keep}
    if any(_head(j.id) in kept_heads for j in (*gone, *new)):
        return None  # ids of unchanged jobs may change (salted ids): link everything
    touched = {o.name for j in (*gone, *new) for o in j.outputs}
    known = {}
    for job in keep:
        links = base_links.get(job.id)
        if links is not None and not touched.intersection(links[4]):
            known[job.id] = links
    links_out: dict[str, tuple] = {}
    result = build_graph(
        [*keep, *new],
        platforms=settings.platforms,
        providers=settings.providers,
        known=known,
        links_out=links_out,
    )
    recipe_errors = {rel: errs for rel, errs in base.recipe_errors.items() if rel not in changed}
    for r in renders:
        if r.error is not None:
            recipe_errors[r.recipe] = (*recipe_errors.get(r.recipe, ()), r.error)
    return Linked(sorted_errors(recipe_errors), result, recipe_errors, links_out)
