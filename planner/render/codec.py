"""Renders as plain tuples: the form the render cache stores (``marshal``) and decodes fast.

Why not JSON of ``to_dict()``: a warm plan of the whole bioconda corpus decodes ~37,000 platform
renders, and JSON's dicts of dicts plus ``from_dict`` on each level were most of its cost. Plain tuples
in a fixed field order load with ``marshal`` in a fraction of the time, and each distinct output is
stored once per entry (most recipes render the same outputs on every platform, all noarch ones do) and
built once per read.

Paths: a render names files of the tree it was made from (a :class:`RecipeError`'s path and message,
rarely a ``RECIPE_DIR`` in a value). The cache key does not depend on where the tree is checked out,
so :func:`encode` replaces the discovery root by a placeholder and :func:`decode` puts the reader's
root back: the same tree checked out elsewhere (a CI runner, ``preview --head``'s temporary worktree)
reads renders that name its own files.

Layout of a payload (a dict, so a reader can tell a foreign or old shape from a good one)::

    {"o": [output, ...], "p": {platform: render, ...}, "r": rebased}
    output = the fields of RenderedOutput in order (planner.model.OUTPUT_FIELDS), flattened:
             requirements as (build, host, run, run_constrained), a variant as its items, tuples as tuples
    render = (recipe, platform, (variant, ...), error)    error = (path, line, message) | None
    variant = (recipe, format, platform, variant_items, output_indices, skip, undefined_jinja, build_platform)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from planner.model import (
    OUTPUT_FIELDS,
    PHASES,
    PlatformRender,
    RecipeError,
    RecipeFormat,
    RenderedOutput,
    RenderedRecipe,
    Requirements,
    Variant,
)

#: What stands for the discovery root inside a stored payload (NUL never occurs in YAML text).
ROOT_MARK = "\0stackplan-root\0"
_FORMATS = {f.value: f for f in RecipeFormat}


#: Field kind -> how a value of it is flattened, as an expression of the value ``{v}`` (kinds not
#: listed are stored as they are).
_FLATTEN: dict[str, str] = {
    "Requirements": "(" + "".join(f"tuple({{v}}.{p}), " for p in PHASES) + ")",
    "Variant": "tuple({v}.items())",
    "tuple[str, ...]": "tuple({v})",
}


def _output_tuple_function() -> Callable[[RenderedOutput], tuple]:
    """``_output_tuple`` written out from :data:`OUTPUT_FIELDS` once, at import.

    Why generated: encoding runs once per output of every render stored, and a loop over the fields
    (getter, list, per-field flatten calls, tuple) cost ~6% of a cache write against a tuple display
    written by hand. The schema stays in one place: the code below is made from the field list, so a
    new field of ``RenderedOutput`` reaches the cache without an edit here (as ``dataclasses`` makes
    ``__init__``).

    >>> from planner.model import Requirements
    >>> _output_tuple(RenderedOutput("a", "1", 0, requirements=Requirements(host=("zlib",))))[:7]
    ('a', '1', 0, None, None, False, ((), ('zlib',), (), ()))
    """
    items = [_FLATTEN.get(f.kind, "{v}").format(v=f"o.{f.name}") for f in OUTPUT_FIELDS]
    source = f"def _output_tuple(o):\n    return ({', '.join(items)},)\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{__name__}._output_tuple>", "exec"), {"tuple": tuple}, namespace)
    return namespace["_output_tuple"]


_output_tuple = _output_tuple_function()


def encode(renders: Iterable[PlatformRender], root: str | None = None, into: Mapping | None = None) -> dict:
    """The payload of ``renders`` (merged over the payload ``into`` when given; new platforms win)."""
    table: list[tuple] = []
    index: dict[tuple, int] = {}
    platforms: dict[str, tuple] = {}

    def ref(out: tuple) -> int:
        i = index.get(out)
        if i is None:
            i = index[out] = len(table)
            table.append(out)
        return i

    if into:
        old_table = into["o"]
        for p, (recipe, platform, variants, error) in into["p"].items():
            moved = tuple((*v[:4], tuple(ref(old_table[i]) for i in v[4]), *v[5:]) for v in variants)
            platforms[p] = (recipe, platform, moved, error)
    for render in renders:
        variants = tuple(
            (
                v.recipe,
                v.format.value,
                v.platform,
                tuple(v.variant.items()),
                tuple(ref(_output_tuple(o)) for o in v.outputs),
                v.skip,
                tuple(v.undefined_jinja),
                v.build_platform,
            )
            for v in render.variants
        )
        e = render.error
        error = (e.path, e.line, e.message) if e is not None else None
        platforms[render.platform] = (render.recipe, render.platform, variants, error)
    payload = {"o": table, "p": platforms, "r": bool(into and into.get("r"))}
    if root and not payload["r"] and _mentions(payload, root):
        payload = {"o": _swap(table, root, ROOT_MARK), "p": _swap(platforms, root, ROOT_MARK), "r": True}
    return payload


def _mentions(obj: Any, root: str) -> bool:
    if isinstance(obj, str):
        return obj == root or (root + "/") in obj
    if isinstance(obj, dict):
        return any(_mentions(v, root) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(_mentions(v, root) for v in obj)
    return False


def _swap(obj: Any, old: str, new: str) -> Any:
    """``obj`` with ``old`` (a root: the string itself or followed by ``/``) replaced by ``new``."""
    if isinstance(obj, str):
        if obj == old:
            return new
        return obj.replace(old + "/", new + "/") if old in obj else obj
    if isinstance(obj, dict):
        return {k: _swap(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_swap(v, old, new) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_swap(v, old, new) for v in obj)
    return obj


def rebase(payload: dict, root: str | None) -> dict:
    """``payload`` with the root placeholder replaced by ``root`` (a payload that has none: as is)."""
    if not payload.get("r"):
        return payload
    target = root if root else "."
    return {
        "o": _swap(payload["o"], ROOT_MARK, target),
        "p": _swap(payload["p"], ROOT_MARK, target),
        "r": False,
    }


def well_formed(payload: Any) -> bool:
    """The cheap shape check a verified payload must pass before it is decoded."""
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("o"), list)
        and isinstance(payload.get("p"), dict)
    )


class Decoder:
    """Builds model objects from payloads, sharing equal variants and requirements between entries.

    One decoder serves a whole run: most recipes share a few variants (the python or R pin), and a
    shared immutable object is both faster to make and lighter in memory.
    """

    def __init__(self) -> None:
        self._variants: dict[tuple, Variant] = {}
        #: (position, rebuild) for the fields :data:`_FLATTEN` flattens; the others are stored as they are.
        unflatten = {"Requirements": lambda t: Requirements(*t), "Variant": self.variant}
        self._rebuild_at = tuple(
            (i, unflatten[f.kind]) for i, f in enumerate(OUTPUT_FIELDS) if f.kind in unflatten
        )

    def variant(self, items: tuple) -> Variant:
        v = self._variants.get(items)
        if v is None:
            v = self._variants[items] = Variant(dict(items))
        return v

    def output(self, t: Sequence[Any]) -> RenderedOutput:
        if len(t) != len(OUTPUT_FIELDS):
            raise ValueError("an output of another shape")
        values = list(t)
        for i, rebuild in self._rebuild_at:
            values[i] = rebuild(values[i])
        return RenderedOutput(*values)

    def renders(
        self, payload: Mapping[str, Any], platforms: Sequence[str]
    ) -> tuple[dict[str, PlatformRender], list[str]]:
        """The renders of ``platforms`` the payload holds, and the platforms it lacks (in order)."""
        table = payload["o"]
        stored = payload["p"]
        built: dict[int, RenderedOutput] = {}
        found: dict[str, PlatformRender] = {}
        missing: list[str] = []
        for p in platforms:
            t = stored.get(p)
            try:
                if t is None or t[1] != p:
                    raise KeyError(p)
                recipe, platform, variants, error = t
                rendered = []
                for rec, fmt, plat, vitems, refs, skip, undefined, build_platform in variants:
                    outs = []
                    for i in refs:
                        o = built.get(i)
                        if o is None:
                            o = built[i] = self.output(table[i])
                        outs.append(o)
                    rendered.append(
                        RenderedRecipe(
                            recipe=rec,
                            format=_FORMATS[fmt],
                            platform=plat,
                            variant=self.variant(vitems),
                            outputs=tuple(outs),
                            skip=skip,
                            undefined_jinja=undefined,
                            build_platform=build_platform,
                        )
                    )
                found[p] = PlatformRender(
                    recipe=recipe,
                    platform=platform,
                    variants=tuple(rendered),
                    error=RecipeError(*error) if error is not None else None,
                )
            except (KeyError, TypeError, ValueError, IndexError):
                missing.append(p)
        return found, missing
