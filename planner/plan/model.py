"""The plan: what builds, where, in which order, and why — the contract between planner and flows.

A :class:`Plan` is what ``stackplan plan -o plan.json`` writes and what ``stackplan run`` reads. Its
JSON form is validated by ``schemas/plan.schema.json``; :func:`Plan.to_json` is canonical (sorted keys,
fixed separators) so identical inputs give byte-identical files, and ``hash`` is the SHA-256 of that
canonical form with ``hash`` left empty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from planner.model import RecipeError, RecipeFormat

PLAN_SCHEMA_VERSION = 1



class SelectKind(StrEnum):
    """Why a job is in the plan (``PlanNode.selected.kind``). A ``str`` whose value is what the plan JSON
    holds, so the JSON is the same as when kinds were plain strings; ``schemas/plan.schema.json`` lists
    the same values (a test holds them equal)."""

    ALL = "all"  # no selection flags were given: every recipe is selected
    CHANGED = "changed"  # its recipe changed (git range or --changed-files)
    EXPLICIT = "explicit"  # --package named it
    DOWNSTREAM = "downstream"  # it depends on a seed (--downstream)
    UPSTREAM = "upstream"  # a seed needs it (--upstream)
    CONFIG_CHANGE = "config-change"  # a variant key it uses changed in a config file


class SkipKind(StrEnum):
    """Why a selected job will not be built (``PlanNode.skipped.kind``); values as in the plan JSON."""

    EXISTS = "exists"  # all its outputs are in the channel (--skip-existing)
    EXCLUDED = "excluded"  # --exclude
    SKIPLIST = "skiplist"  # an entry of the skiplist file
    RENDER_SKIP = "render-skip"  # the recipe skips itself on this platform
    RENDER_ERROR = "render-error"  # kept in the vocabulary (and the schema) for plans that carry it


#: The kind of a :class:`Reason` by its JSON value (both vocabularies are disjoint).
_REASON_KINDS: dict[str, SelectKind | SkipKind] = {k.value: k for k in (*SelectKind, *SkipKind)}

#: What a plan warning is about (``PlanWarning.kind``), in the order the terminal summary lists them.
#: ``pin-broken``: a job the selection changed no longer satisfies a dependent's pin (the dependent's
#: requirement is taken from the channel instead) — what a PR preview should say out loud.
WARNING_KINDS = (
    "pin-broken",
    "unsatisfied",
    "ambiguous",
    "cycle",
    "lane-cycle",
    "invalid-spec",
    "unknown-package",
    "config",
)


@dataclass(frozen=True)
class OutputRef:
    """A package a job produces."""

    name: str
    version: str
    build_number: int
    noarch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "build_number": self.build_number,
            "noarch": self.noarch,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutputRef:
        return cls(d["name"], str(d["version"]), int(d["build_number"]), d.get("noarch"))


@dataclass(frozen=True)
class Reason:
    """Why something was selected or skipped: a kind from a fixed vocabulary plus a human detail.

    >>> Reason.from_dict({"kind": "downstream", "detail": "depends on a"}).kind is SelectKind.DOWNSTREAM
    True
    """

    kind: SelectKind | SkipKind
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Reason | None:
        """The reason in a plan's JSON; a kind outside both vocabularies is a ``ValueError`` (not a plan)."""
        if d is None:
            return None
        text = d["kind"]
        kind = _REASON_KINDS.get(text) if isinstance(text, str) else None
        if kind is None:
            raise ValueError(f"unknown reason kind {text!r}")
        return cls(kind, d.get("detail", ""))


@dataclass(frozen=True)
class PlanWarning:
    """One warning as a value: what kind, which job and requirement, on which platform, and a message.

    ``related`` names other jobs involved (the candidates that did not fit, the changed job that no
    longer satisfies a pin, the recipes that provide one name). ``changed`` is True when the warning is
    about a name or job the selection changed: those are listed first. ``str()`` is the message.
    """

    kind: str
    detail: str
    job: str = ""
    spec: str = ""
    platform: str = ""
    related: tuple[str, ...] = ()
    changed: bool = False

    def __str__(self) -> str:
        return self.detail

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "job": self.job,
            "spec": self.spec,
            "platform": self.platform,
            "detail": self.detail,
            "related": list(self.related),
            "changed": self.changed,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | str) -> PlanWarning:
        if isinstance(d, str):  # a plan written before warnings were values
            return cls("config", d)
        return cls(
            kind=d["kind"],
            detail=d.get("detail", ""),
            job=d.get("job", ""),
            spec=d.get("spec", ""),
            platform=d.get("platform", ""),
            related=tuple(d.get("related") or ()),
            changed=bool(d.get("changed", False)),
        )

    def sort_key(self) -> tuple:
        """Changed first, then by kind (:data:`WARNING_KINDS` order), job, spec, platform, message."""
        rank = WARNING_KINDS.index(self.kind) if self.kind in WARNING_KINDS else len(WARNING_KINDS)
        return (not self.changed, rank, self.job, self.spec, self.platform, self.detail)


@dataclass(frozen=True)
class PlanNode:
    """One build job: a recipe on one platform with one variant. Multi-output recipes are one job."""

    id: str  # name-version-build@platform[variant-hash]
    recipe: str  # recipe dir relative to the plan root
    format: RecipeFormat
    platform: str  # target subdir, "noarch" for noarch jobs
    build_platform: str  # where the job runs (noarch jobs: linux-64 unless configured)
    variant: Mapping[str, str]
    outputs: tuple[OutputRef, ...]
    selected: Reason
    skipped: Reason | None = None
    layer: int = 0
    duration_estimate: float = 1.0
    pool: str = ""  # work pool; the build platform's, or "gpu"
    test_pool: str = ""  # where its tests run; "gpu" for GPU jobs
    tags: tuple[str, ...] = ()
    #: Requirement names taken from the channel: no recipe of the tree provides them, or (with an
    #: ``unsatisfied`` / ``pin-broken`` warning for this job) no build of the recipes that do fits.
    from_channel: tuple[str, ...] = ()

    @property
    def lane(self) -> str:
        """The lane a job runs and is drawn in: its build platform, the workers it runs on (noarch and
        cross-compiled jobs included). ``flows/run/lanes.py`` cuts the plan into one subflow per lane."""
        return self.build_platform or self.platform

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from_channel": list(self.from_channel),
            "recipe": self.recipe,
            "format": self.format,
            "platform": self.platform,
            "build_platform": self.build_platform,
            "variant": dict(sorted(self.variant.items())),
            "outputs": [o.to_dict() for o in self.outputs],
            "selected": self.selected.to_dict(),
            "skipped": self.skipped.to_dict() if self.skipped else None,
            "layer": self.layer,
            "duration_estimate": self.duration_estimate,
            "pool": self.pool,
            "test_pool": self.test_pool,
            "tags": list(self.tags),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlanNode:
        return cls(
            id=d["id"],
            recipe=d["recipe"],
            format=RecipeFormat(d["format"]),
            platform=d["platform"],
            build_platform=d["build_platform"],
            variant=dict(d.get("variant") or {}),
            outputs=tuple(OutputRef.from_dict(o) for o in d["outputs"]),
            selected=Reason.from_dict(d["selected"]),  # type: ignore[arg-type]
            skipped=Reason.from_dict(d.get("skipped")),
            layer=int(d.get("layer", 0)),
            duration_estimate=float(d.get("duration_estimate", 1.0)),
            pool=d.get("pool", ""),
            test_pool=d.get("test_pool", ""),
            tags=tuple(d.get("tags") or ()),
            from_channel=tuple(d.get("from_channel") or ()),
        )


@dataclass(frozen=True)
class PlanEdge:
    """``source`` must finish before ``target`` starts.

    ``phase``/``spec`` say which requirement of the target the source satisfies. ``via`` lists
    unselected jobs the order was carried through (A -> B -> C with B unselected gives A -> C via B).
    """

    source: str
    target: str
    phase: str
    spec: str
    via: tuple[str, ...] = ()
    #: Bootstrap edges only: the cycles dropping this edge broke (job ids in cycle order, the first
    #: few), and how many cycles it closed in all (the count of the component's enumerated cycles).
    cycles: tuple[tuple[str, ...], ...] = ()
    closes: int = 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "source": self.source,
            "target": self.target,
            "phase": self.phase,
            "spec": self.spec,
            "via": list(self.via),
        }
        if self.cycles:  # only bootstrap edges carry them: plain edges stay as small as before
            d["cycles"] = [list(c) for c in self.cycles]
            d["closes"] = self.closes
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlanEdge:
        return cls(
            d["source"],
            d["target"],
            d["phase"],
            d["spec"],
            tuple(d.get("via") or ()),
            tuple(tuple(c) for c in d.get("cycles") or ()),
            int(d.get("closes") or 0),
        )


@dataclass(frozen=True)
class Plan:
    """The whole plan. Layers are per platform: ``layers[platform][i]`` is the list of job ids of layer i."""

    root: str
    platforms: tuple[str, ...]
    nodes: tuple[PlanNode, ...]
    edges: tuple[PlanEdge, ...]
    layers: Mapping[str, tuple[tuple[str, ...], ...]]
    critical_path: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    makespan: Mapping[str, float] = field(default_factory=dict)
    external: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    bootstrap_edges: tuple[PlanEdge, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    errors: tuple[RecipeError, ...] = ()  # of the recipes that failed to render, sorted, each once
    inputs: Mapping[str, Any] = field(default_factory=dict)  # what the plan was made from (flags, configs)
    stackplan_version: str = ""
    hash: str = ""
    #: The canonical JSON made when :meth:`with_hash` computed the hash, so writing the plan does not
    #: serialise 20,000 jobs a second time (not an input: never compared, never copied by ``replace``).
    _json: str | None = field(default=None, init=False, repr=False, compare=False)

    def node(self, job_id: str) -> PlanNode:
        for n in self.nodes:
            if n.id == job_id:
                return n
        raise KeyError(job_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": PLAN_SCHEMA_VERSION,
            "stackplan_version": self.stackplan_version,
            "hash": self.hash,
            "root": self.root,
            "platforms": list(self.platforms),
            "inputs": dict(self.inputs),
            "nodes": [n.to_dict() for n in sorted(self.nodes, key=lambda n: n.id)],
            "edges": [
                e.to_dict() for e in sorted(self.edges, key=lambda e: (e.source, e.target, e.phase, e.spec))
            ],
            "layers": {p: [list(layer) for layer in ls] for p, ls in sorted(self.layers.items())},
            "critical_path": {p: list(c) for p, c in sorted(self.critical_path.items())},
            "makespan": dict(sorted(self.makespan.items())),
            "external": {p: sorted(x) for p, x in sorted(self.external.items())},
            "bootstrap_edges": [e.to_dict() for e in self.bootstrap_edges],
            "warnings": [w.to_dict() for w in self.warnings],
            "errors": [e.to_dict() for e in self.errors],
        }

    def to_json(self) -> str:
        """Canonical JSON with the hash filled in: the bytes ``plan -o`` writes."""
        if self._json is not None and self.hash:
            return self._json
        return self.with_hash()._json or ""

    def compute_hash(self) -> str:
        return hashlib.sha256(_canonical(replace(self, hash="").to_dict()).encode()).hexdigest()

    def with_hash(self) -> Plan:
        """The same plan with ``hash`` computed (and its canonical JSON kept for :meth:`to_json`).

        Each top-level value is serialised once: the canonical text with ``"hash": ""`` (what is
        hashed) and the one with the hash filled in differ only in that member, so both are joined
        from the same pieces (the text equals ``json.dumps(sort_keys=True)`` of the whole dict).
        """
        data = self.to_dict()
        members = sorted(data)
        at = members.index("hash")

        def joined(keys: list[str]) -> str:
            return ",".join(f"{_canonical(k)}:{_canonical(data[k])}" for k in keys)

        head, tail = "{" + joined(members[:at]), joined(members[at + 1 :]) + "}"
        head, tail = head + ("," if at else ""), ("," if tail != "}" else "") + tail
        digest = hashlib.sha256()
        for part in (head, '"hash":""', tail):  # hashed in pieces: no copy of the whole text
            digest.update(part.encode())
        hashed = replace(self, hash=digest.hexdigest())
        object.__setattr__(hashed, "_json", f'{head}"hash":{_canonical(hashed.hash)}{tail}\n')
        return hashed

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        return cls(
            root=d["root"],
            platforms=tuple(d["platforms"]),
            nodes=tuple(PlanNode.from_dict(n) for n in d["nodes"]),
            edges=tuple(PlanEdge.from_dict(e) for e in d["edges"]),
            layers={p: tuple(tuple(layer) for layer in ls) for p, ls in d["layers"].items()},
            critical_path={p: tuple(c) for p, c in (d.get("critical_path") or {}).items()},
            makespan=dict(d.get("makespan") or {}),
            external={p: tuple(x) for p, x in (d.get("external") or {}).items()},
            bootstrap_edges=tuple(PlanEdge.from_dict(e) for e in d.get("bootstrap_edges") or ()),
            warnings=tuple(PlanWarning.from_dict(w) for w in d.get("warnings") or ()),
            errors=tuple(RecipeError.from_dict(e) for e in d.get("errors") or ()),
            inputs=dict(d.get("inputs") or {}),
            stackplan_version=d.get("stackplan_version", ""),
            hash=d.get("hash", ""),
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: The JSON Schema every plan validates against (kept beside the code, not fetched).
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"


def validate_plan_dict(data: Mapping[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``data`` is not a valid plan (see SCHEMA_PATH)."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.validate(dict(data), schema)
