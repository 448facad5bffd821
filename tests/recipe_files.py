"""Recipe trees on disk, written by tests: files by relative path, and the texts of small recipes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (a posix path relative to ``root`` -> its text), making the folders; ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def meta_yaml(
    name: str, version: str = "1.0", *, noarch: str = "", number: int | None = None, **phases: Sequence[str]
) -> str:
    """A conda-build ``meta.yaml``: requirement phases in the order given, empty ones left out, as block
    lists (``[...]`` at a line end would be a selector to conda-build).

    >>> print(meta_yaml("zlib", "1.3", number=1, host=["make"]), end="")
    package:
      name: zlib
      version: '1.3'
    build:
      number: 1
    requirements:
      host:
        - make
    """
    text = f"package:\n  name: {name}\n  version: '{version}'\n"
    build = f"  number: {number}\n" if number is not None else ""
    build += f"  noarch: {noarch}\n" if noarch else ""
    if build:
        text += "build:\n" + build
    listed = {phase: reqs for phase, reqs in phases.items() if reqs}
    if listed:
        text += "requirements:\n" + "".join(
            f"  {phase}:\n" + "".join(f"    - {r}\n" for r in reqs) for phase, reqs in listed.items()
        )
    return text


def script_recipe(
    root: Path, name: str, script: Sequence[str], *, host: Sequence[str] = (), noarch: bool = False
) -> Path:
    """A rattler-build ``root/name/recipe.yaml`` (version 1.0, build 0) whose build runs ``script``, a
    shell line an item; ``noarch`` makes it ``noarch: generic``. Returns the recipe dir."""
    d = root / name
    d.mkdir(parents=True)
    text = f"package:\n  name: {name}\n  version: '1.0'\nbuild:\n  number: 0\n"
    text += "  noarch: generic\n" if noarch else ""
    text += "  script:\n" + "".join(f"    - {json.dumps(s)}\n" for s in script)
    if host:
        text += "requirements:\n  host:\n" + "".join(f"    - {h}\n" for h in host)
    (d / "recipe.yaml").write_text(text)
    return d
