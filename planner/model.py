"""The typed values that pass between the planner's stages.

``discover`` yields :class:`RecipeSource`; ``render`` turns one source and one platform into a
:class:`PlatformRender` holding one :class:`RenderedRecipe` per variant (each with its
:class:`RenderedOutput` s); the graph turns those into jobs and the plan (see ``planner.plan.model``).

All values are frozen so a later stage can never change what an earlier one saw, and every value has
``to_dict`` / ``from_dict`` so renders can be cached and compared with conda-build's truth lines.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from planner.errors import RecipeError

#: The requirement sections of a rendered output, in recipe order.
PHASES: tuple[str, ...] = ("build", "host", "run", "run_constrained")
#: The phases of a dependency edge between jobs, strongest first: a cycle is broken by dropping its
#: weakest edge (test, then run, then build; host never when another will do). The plan schema's
#: ``phase`` enum lists the same (tests/test_model.py holds them equal).
EDGE_PHASES: tuple[str, ...] = ("host", "build", "run", "test")


class RecipeFormat(StrEnum):
    """Which recipe dialect a recipe dir holds."""

    V0 = "v0"  # conda-build meta.yaml
    V1 = "v1"  # rattler-build recipe.yaml


class Variant(Mapping[str, str]):
    """An immutable, hashable, sorted mapping of variant keys to values (all strings).

    >>> v = Variant({"python": "3.12.* *_cpython", "numpy": "2"})
    >>> list(v)
    ['numpy', 'python']
    >>> v == Variant({"numpy": "2", "python": "3.12.* *_cpython"})
    True
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple(
            sorted((str(k), str(v)) for k, v in (items or {}).items())
        )

    def __getitem__(self, key: str) -> str:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Variant):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == {str(k): str(v) for k, v in other.items()}
        return NotImplemented

    def __repr__(self) -> str:
        return f"Variant({dict(self._items)!r})"

    def __reduce__(self):
        # The items are already sorted strings: unpickling skips __init__'s conversion and sort (the
        # render pool ships tens of thousands of variants back to the planning process).
        return (_variant_from_sorted_items, (self._items,))

    def restrict(self, keys: set[str] | frozenset[str]) -> Variant:
        """The same variant limited to ``keys`` (a job's variant holds only the keys it uses)."""
        return Variant({k: v for k, v in self._items if k in keys})

    def agrees_with(self, other: Mapping[str, str]) -> bool:
        """True when every key both variants hold has the same value."""
        return all(other[k] == v for k, v in self._items if k in other)

    def to_dict(self) -> dict[str, str]:
        return dict(self._items)


def _variant_from_sorted_items(items: tuple[tuple[str, str], ...]) -> Variant:
    """A :class:`Variant` from the ``_items`` of another (sorted ``(str, str)`` pairs, trusted)."""
    variant = Variant.__new__(Variant)
    variant._items = items
    return variant


@dataclass(frozen=True)
class RecipeSource:
    """A recipe dir found under a root, before anything is evaluated.

    ``rel`` is the dir relative to the root with forward slashes: it names the recipe in plans,
    ids and JSON lines, so the same tree gives the same plan wherever it is checked out.
    """

    path: Path  # the recipe dir, absolute
    rel: str  # relative to the discovery root, posix separators
    format: RecipeFormat
    recipe_file: Path  # meta.yaml or recipe.yaml
    local_configs: tuple[Path, ...] = ()  # recipe-local conda_build_config.yaml / variants.yaml


@dataclass(frozen=True)
class Requirements:
    """Requirement specs per phase, as strings in conda MatchSpec syntax (whitespace folded)."""

    build: tuple[str, ...] = ()
    host: tuple[str, ...] = ()
    run: tuple[str, ...] = ()
    run_constrained: tuple[str, ...] = ()

    def phase(self, name: str) -> tuple[str, ...]:
        return getattr(self, name)

    def to_dict(self) -> dict[str, list[str]]:
        return {p: list(getattr(self, p)) for p in PHASES}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Requirements:
        return cls(**{p: tuple(d.get(p) or ()) for p in PHASES})


@dataclass(frozen=True)
class RenderedOutput:
    """One package a recipe variant produces.

    The fields, in this order, are the whole schema of an output: :meth:`to_dict` (the truth-line
    shape of ``../shared/corpus/README.md``, plus ``test_requires`` and ``test_on``), :meth:`from_dict`
    and the render cache's tuples (:mod:`planner.render.codec`) are all derived from them through
    :data:`OUTPUT_FIELDS`, so a new field is added here once.
    """

    name: str
    version: str
    build_number: int
    build_string: str | None = None  # informative only
    noarch: str | None = None  # None | "python" | "generic"
    skip: bool = False
    requirements: Requirements = field(default_factory=Requirements)
    test_requires: tuple[str, ...] = ()
    variant: Variant = field(default_factory=Variant)  # the keys this output uses
    undefined_jinja: tuple[str, ...] = ()
    test_on: str | None = None  # e.g. "gpu": the extra.test_on of the recipe/output

    def to_dict(self) -> dict[str, Any]:
        """The truth-line shape (``../shared/corpus/README.md``) plus ``test_requires`` and ``test_on``."""
        return {f.name: f.to_json(getattr(self, f.name)) for f in OUTPUT_FIELDS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RenderedOutput:
        return cls(*(f.from_json(d[f.name] if f.required else d.get(f.name)) for f in OUTPUT_FIELDS))


def _same(value: Any) -> Any:
    return value


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(value or ())


@dataclass(frozen=True)
class SchemaField:
    """How one field of :class:`RenderedOutput` is written to JSON and read back. A plain string (name,
    version) is required; any other key may be missing: it reads as None and ``from_json`` gives the
    field's default (a missing build number is 0)."""

    name: str
    kind: str  # the field's type as written in the class: "str", "Requirements", "tuple[str, ...]"...
    required: bool
    to_json: Any
    from_json: Any


#: type -> (to JSON, from JSON)
_CONVERSIONS: dict[str, tuple[Any, Any]] = {
    "str": (_same, str),
    "int": (_same, lambda v: int(v or 0)),
    "bool": (_same, bool),
    "str | None": (_same, _same),
    "tuple[str, ...]": (list, _strings),
    "Requirements": (Requirements.to_dict, lambda v: Requirements.from_dict(v or {})),
    "Variant": (Variant.to_dict, lambda v: Variant(v or {})),
}

#: The fields of :class:`RenderedOutput` in order, with their JSON conversions.
OUTPUT_FIELDS: tuple[SchemaField, ...] = tuple(
    SchemaField(f.name, str(f.type), str(f.type) == "str", *_CONVERSIONS[str(f.type)])
    for f in fields(RenderedOutput)
)


@dataclass(frozen=True)
class RenderedRecipe:
    """A recipe rendered for one target platform and one variant: one build job's worth of work.

    ``variant`` is restricted to the keys the recipe uses (the union over its outputs). A
    multi-output recipe is one RenderedRecipe with several outputs.
    """

    recipe: str  # RecipeSource.rel
    format: RecipeFormat
    platform: str  # target subdir
    variant: Variant
    outputs: tuple[RenderedOutput, ...]
    skip: bool = False  # every output skipped on this platform/variant
    undefined_jinja: tuple[str, ...] = ()
    build_platform: str | None = None  # set when cross-compiling

    @property
    def noarch(self) -> str | None:
        """The noarch kind when every output is noarch (then one job serves every platform)."""
        kinds = {o.noarch for o in self.outputs}
        return kinds.pop() if len(kinds) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "format": self.format.value,
            "platform": self.platform,
            "variant": self.variant.to_dict(),
            "outputs": [o.to_dict() for o in self.outputs],
            "skip": self.skip,
            "undefined_jinja": list(self.undefined_jinja),
            "build_platform": self.build_platform,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RenderedRecipe:
        return cls(
            recipe=d["recipe"],
            format=RecipeFormat(d["format"]),
            platform=d["platform"],
            variant=Variant(d.get("variant") or {}),
            outputs=tuple(RenderedOutput.from_dict(o) for o in d.get("outputs") or ()),
            skip=bool(d.get("skip", False)),
            undefined_jinja=tuple(d.get("undefined_jinja") or ()),
            build_platform=d.get("build_platform"),
        )


@dataclass(frozen=True)
class PlatformRender:
    """Everything one recipe dir renders to on one platform: its variants, or the error that stopped it.

    This is the unit the render cache stores and the unit compared with one conda-build truth line.
    """

    recipe: str  # RecipeSource.rel
    platform: str
    variants: tuple[RenderedRecipe, ...] = ()
    error: RecipeError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def truth_line(self) -> dict[str, Any]:
        """The shape of one line of ``../shared/corpus/truth/conda-build.<platform>.jsonl``.

        Skipped variants are dropped (as conda-build drops them); an error gives ``"error"``.
        """
        line: dict[str, Any] = {"recipe": self.recipe, "platform": self.platform}
        if self.error is not None:
            line["error"] = str(self.error)
            return line
        line["outputs"] = [o.to_dict() for v in self.variants if not v.skip for o in v.outputs if not o.skip]
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "platform": self.platform,
            "variants": [v.to_dict() for v in self.variants],
            "error": self.error.to_dict() if self.error else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlatformRender:
        return cls(
            recipe=d["recipe"],
            platform=d["platform"],
            variants=tuple(RenderedRecipe.from_dict(v) for v in d.get("variants") or ()),
            error=RecipeError.from_dict(d["error"]) if d.get("error") else None,
        )


@dataclass(frozen=True)
class RenderOptions:
    """What a render needs besides the recipe: the variant configs and the environment.

    ``variant_configs`` are merged over the defaults, ``exclusive_configs`` replace the defaults (as
    conda-build's ``--variant-config-files`` / ``--exclusive-config-files``). ``environ`` is the
    environment that ``environ[...]`` and ``os.environ`` see in Jinja and selectors: empty unless
    given, so a render does not depend on the shell it runs in.
    """

    variant_configs: tuple[Path, ...] = ()
    exclusive_configs: tuple[Path, ...] = ()
    environ: Variant = field(default_factory=Variant)
    build_platform: str | None = None  # None: native (build platform == target platform)
