"""The repository-level configuration file, ``stackplan.yaml``: read, validated, located errors.

The file is optional; every key has a default. It is validated against
``schemas/config.schema.json`` (the one description of the format, also usable by editors), and a
problem is a :class:`~planner.model.RecipeError` at the line of the offending key, so a typo reads
``stackplan.yaml:4: unknown key 'platfroms' (did you mean 'platforms'?)`` rather than a traceback.
The round-trip YAML loader is used because it keeps the line of every key.

Relative paths in the file resolve against the file's own dir, so the same config works from any
current dir. Listed files must exist: a missing pinning file would silently change every render.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from planner.model import RecipeError, RenderOptions, Variant
from planner.platforms import BUILD_SUBDIRS, DEFAULT_NOARCH_BUILD_PLATFORM

CONFIG_NAME = "stackplan.yaml"
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.json"
BUILDERS = ("rattler-build", "conda-build", "dry-run")
#: Variant keys whose value (other than None) marks a job as needing a GPU to test: CUDA builds.
DEFAULT_GPU_VARIANT_KEYS: tuple[str, ...] = ("cuda_compiler_version",)


def _frozen(d: Mapping[str, str] | None = None) -> Mapping[str, str]:
    return MappingProxyType(dict(sorted((d or {}).items())))


@dataclass(frozen=True)
class StackplanConfig:
    """What ``stackplan.yaml`` says, with defaults filled in and paths made absolute."""

    root: Path = Path(".")
    path: Path | None = None  # the file it came from; None: defaults only
    platforms: tuple[str, ...] = BUILD_SUBDIRS
    variant_configs: tuple[Path, ...] = ()
    exclusive_configs: tuple[Path, ...] = ()
    channels: tuple[str, ...] = ()
    builder: str = "rattler-build"
    noarch_platform: str = DEFAULT_NOARCH_BUILD_PLATFORM
    build_platforms: Mapping[str, str] = field(default_factory=_frozen)
    providers: Mapping[str, str] = field(default_factory=_frozen)
    skiplist: Path | None = None
    durations: Path | None = None
    environ: Mapping[str, str] = field(default_factory=_frozen)
    gpu_variant_keys: tuple[str, ...] = DEFAULT_GPU_VARIANT_KEYS
    retries: int = 2
    retry_delay: float = 10.0
    isolation: str = "process"  # "container": linux/noarch jobs in containers (flows/builders/container.py)
    container_engine: str | None = None
    container_image: str | None = None
    container_network: tuple[str, ...] = ()  # recipes whose container builds may use the network

    def build_platform(self, target: str) -> str:
        """Where a job for ``target`` is built (``noarch`` jobs on :attr:`noarch_platform`)."""
        if target == "noarch":
            return self.noarch_platform
        return self.build_platforms.get(target, target)

    def render_options(
        self,
        *,
        variant_configs: Sequence[Path] = (),
        exclusive_configs: Sequence[Path] = (),
        environ: Mapping[str, str] | None = None,
        platform: str | None = None,
    ) -> RenderOptions:
        """The :class:`RenderOptions` for a render: this file's configs and environment, then the
        extra ones given (command line), later ones winning. ``platform`` sets the cross-compiling
        build platform when :attr:`build_platforms` names one for it."""
        build = self.build_platforms.get(platform) if platform else None
        return RenderOptions(
            variant_configs=(*self.variant_configs, *variant_configs),
            exclusive_configs=(*self.exclusive_configs, *exclusive_configs),
            environ=Variant({**self.environ, **(environ or {})}),
            build_platform=build,
        )

    def read_skiplist(self) -> frozenset[str]:
        """The recipe dirs the skiplist names (blank lines and ``#`` comments ignored)."""
        if self.skiplist is None:
            return frozenset()
        lines = (ln.split("#", 1)[0].strip() for ln in self.skiplist.read_text().splitlines())
        return frozenset(ln.rstrip("/") for ln in lines if ln)

    def read_durations(self) -> dict[str, float]:
        """Expected build seconds by recipe rel or package name (empty without a durations file)."""
        if self.durations is None:
            return {}
        try:
            data = json.loads(self.durations.read_text())
        except (OSError, ValueError) as exc:
            raise RecipeError(self.durations, None, f"cannot read durations: {exc}") from None
        if not isinstance(data, dict):
            raise RecipeError(self.durations, 1, "durations must be a JSON object {name: seconds}")
        return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}


def load_config(root: Path, path: Path | None = None) -> StackplanConfig:
    """Read ``path`` (or ``ROOT/stackplan.yaml`` when present); defaults when there is no file.

    Raises :class:`RecipeError` (file, line, message) for a file that is not valid.
    """
    root = Path(root).absolute()
    if path is None:
        candidate = root / CONFIG_NAME
        if not candidate.is_file():
            return StackplanConfig(root=root)
        path = candidate
    path = Path(path).absolute()
    if not path.is_file():
        raise RecipeError(path, None, "config file not found")
    data = _load_yaml(path)
    _validate(path, data)
    return _build(root, path, data)


def _load_yaml(path: Path) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecipeError(path, None, "not UTF-8 text") from None
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RecipeError(path, line, f"invalid YAML: {exc.problem or exc.context}") from None
    except Exception as exc:  # e.g. RecursionError on absurd nesting
        raise RecipeError(path, None, f"invalid YAML: {type(exc).__name__}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RecipeError(path, 1, "the config must be a mapping of keys (platforms:, channels:, ...)")
    return data


@cache
def schema() -> dict[str, Any]:
    """The config schema (``schemas/config.schema.json``)."""
    return json.loads(SCHEMA_PATH.read_text())


def _validate(path: Path, data: Any) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = list(validator.iter_errors(_plain(data)))
    if not errors:
        return
    # The first problem in file order: what a person fixes first.
    err = min(errors, key=lambda e: (_line(data, _where(e)) or 0, e.message))
    where = _where(err)
    if err.validator == "additionalProperties":
        node = _node(data, where)
        allowed = list(_properties_at(where))
        extra = [k for k in node if k not in allowed] if isinstance(node, Mapping) else []
        if extra:
            key = extra[0]
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise RecipeError(path, _line(data, [*where, key]), f"unknown key {key!r}{did_you_mean}")
    name = ".".join(map(str, where)) or "stackplan.yaml"
    raise RecipeError(path, _line(data, where), f"{name}: {_short(err)}")


def _where(err: Any) -> list[Any]:
    """The path to the offending node; for a bad key (propertyNames) the key itself."""
    where = list(err.absolute_path)
    if "propertyNames" in err.schema_path:
        where.append(err.instance)
    return where


def _properties_at(where: list[Any]) -> list[str]:
    return list(schema()["properties"]) if not where else []


def _short(err: Any) -> str:
    if err.validator == "enum":
        return f"{err.instance!r} is not one of {', '.join(map(str, err.validator_value))}"
    return err.message


def _plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts/lists (for jsonschema)."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _node(data: Any, where: Sequence[Any]) -> Any:
    for step in where:
        data = data[step]
    return data


def _line(data: Any, where: Sequence[Any]) -> int | None:
    """1-based line of the key (or list item) at ``where``; the nearest located parent otherwise."""
    line = None
    node = data
    for step in where:
        try:
            pos = node.lc.key(step) if isinstance(node, Mapping) else node.lc.item(step)
            line = pos[0] + 1
            node = node[step]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line


def _build(root: Path, path: Path, data: Mapping[str, Any]) -> StackplanConfig:
    base = path.parent
    defaults = StackplanConfig()

    def file(key: str, value: str, where: Sequence[Any]) -> Path:
        p = Path(value).expanduser()
        p = p if p.is_absolute() else base / p
        if not p.is_file():
            raise RecipeError(path, _line(data, where), f"{key}: file not found: {p}")
        return p

    def files(key: str) -> tuple[Path, ...]:
        return tuple(file(key, v, [key, i]) for i, v in enumerate(data.get(key) or ()))

    def optional_file(key: str) -> Path | None:
        return file(key, data[key], [key]) if data.get(key) else None

    def mapping(key: str) -> Mapping[str, str]:
        return _frozen({str(k): _scalar(v) for k, v in (data.get(key) or {}).items()})

    return StackplanConfig(
        root=root,
        path=path,
        platforms=tuple(data.get("platforms") or defaults.platforms),
        variant_configs=files("variant_configs"),
        exclusive_configs=files("exclusive_configs"),
        channels=tuple(str(c) for c in data.get("channels") or ()),
        builder=str(data.get("builder", defaults.builder)),
        noarch_platform=str(data.get("noarch_platform", defaults.noarch_platform)),
        build_platforms=mapping("build_platforms"),
        providers=mapping("providers"),
        skiplist=optional_file("skiplist"),
        durations=optional_file("durations"),
        environ=mapping("environ"),
        gpu_variant_keys=tuple(data.get("gpu_variant_keys", defaults.gpu_variant_keys)),
        retries=int(data.get("retries", defaults.retries)),
        retry_delay=float(data.get("retry_delay", defaults.retry_delay)),
        isolation=str(data.get("isolation", defaults.isolation)),
        container_engine=data.get("container_engine"),
        container_image=data.get("container_image"),
        container_network=tuple(str(x) for x in data.get("container_network") or ()),
    )


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
