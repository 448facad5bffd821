"""YAML for rendered meta.yaml text, read as conda-build reads it.

conda-build loads the rendered, selector-applied text with a loader that keeps numbers as strings
(``version: 1.10`` stays ``"1.10"``, never the float 1.1) and lets a repeated key win over the
earlier one. We do the same on ruamel.yaml's C-backed safe loader (libyaml), which is what keeps a
render under a couple of milliseconds; the line of a YAML error comes from the parser's mark.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.cyaml import CSafeLoader
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from planner.model import RecipeError

_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class StringNumbersLoader(CSafeLoader):
    """libyaml safe loading without int/float resolution; duplicate keys allowed (last wins)."""

    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
        """A repeated key replaces the earlier one, as in PyYAML (which conda-build uses)."""
        return True


StringNumbersLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _NUMBER_TAGS]
    for first, resolvers in CSafeLoader.yaml_implicit_resolvers.items()
}


def load_recipe_yaml(text: str, path: str) -> Any:
    """Parse rendered recipe text; a syntax error is a RecipeError with the line of ``text``."""
    loader = StringNumbersLoader(text)
    try:
        return loader.get_single_data()
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RecipeError(path, line, f"invalid YAML after rendering: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise RecipeError(path, None, f"invalid YAML after rendering: {exc}") from None
    finally:
        loader.dispose()
