"""YAML for rendered meta.yaml text, read as conda-build reads it.

conda-build loads the rendered, selector-applied text with a loader that keeps numbers as strings
(``version: 1.10`` stays ``"1.10"``, never the float 1.1) and lets a repeated key win over the
earlier one. We do the same on ruamel.yaml's C-backed safe loader (libyaml), which is what keeps a
render under a couple of milliseconds; the line of a YAML error comes from the parser's mark.

libyaml parses and composes the node tree in C, but ruamel's constructor then walks it in Python
through several calls per node (tag lookup, generators for every list and dict); that was most of
the YAML cost of a render. :func:`_build` turns the common node tree (strings, nulls, booleans,
lists, mappings with scalar keys, aliases) into Python values in one call per node, exactly as the
safe constructor would; anything else (a merge key ``<<``, a timestamp, an explicit tag, a recursive
alias, nesting too deep for Python's stack) is handed to ruamel's constructor on the same nodes, so
results and errors stay ruamel's own.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.cyaml import CSafeLoader
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from planner.model import RecipeError

_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class StringNumbersLoader(CSafeLoader):
    """libyaml safe loading without int/float resolution; duplicate keys allowed (last wins)."""

    def check_mapping_key(self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any) -> bool:
        """A repeated key replaces the earlier one, as in PyYAML (which conda-build uses)."""
        return True

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """ruamel's resolve, with its common case first: a plain scalar whose first character starts
        no implicit resolver is a string (the loop over resolvers would find none)."""
        if _FAST_RESOLVE and kind is ScalarNode and implicit[0] and value and value[0] not in _RESOLVED_FIRST:
            return self.DEFAULT_SCALAR_TAG
        return super().resolve(kind, value, implicit)


StringNumbersLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _NUMBER_TAGS]
    for first, resolvers in CSafeLoader.yaml_implicit_resolvers.items()
}


_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_BOOL_VALUES = SafeConstructor.bool_values


class _Unusual(Exception):
    """A node :func:`_build` leaves to ruamel's constructor."""


def _tag(node: Any) -> str | None:
    ctag = node.ctag
    if ctag is not None and ctag.handle is None and isinstance(ctag.suffix, str) and "%" not in ctag.suffix:
        return ctag.suffix  # what ``node.tag`` gives for these, without the property and Tag.__str__
    return node.tag


def _build(node: Any, memo: dict[int, Any], active: set[int]) -> Any:
    """The value ruamel's safe constructor makes of ``node`` (with our resolvers); raises _Unusual
    for what it does not cover. ``memo``: node id -> value, so an alias yields the same object."""
    key = id(node)
    if key in memo:
        return memo[key]
    kind, tag = type(node), _tag(node)
    if kind is ScalarNode:
        if tag == _STR:
            return node.value
        if tag == _NULL:
            return None
        if tag == _BOOL and node.value.lower() in _BOOL_VALUES:
            return _BOOL_VALUES[node.value.lower()]
        raise _Unusual
    if key in active:  # a recursive alias
        raise _Unusual
    active.add(key)
    if kind is SequenceNode and tag == _SEQ:
        data: Any = [_build(child, memo, active) for child in node.value]
    elif kind is MappingNode and tag == _MAP:
        data = {}
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode or _tag(key_node) not in (_STR, _NULL, _BOOL):
                raise _Unusual  # merge keys, ``=`` value keys, collections as keys
            data[_build(key_node, memo, active)] = _build(value_node, memo, active)
    else:
        raise _Unusual
    active.discard(key)
    memo[key] = data
    return data


#: First characters some implicit resolver (null, bool, merge, timestamp...) may match.
_RESOLVED_FIRST = frozenset(k for k, v in StringNumbersLoader.yaml_implicit_resolvers.items() if k and v)
#: The shortcut holds while no resolver applies to every first character and no path resolver exists.
_FAST_RESOLVE = (
    None not in StringNumbersLoader.yaml_implicit_resolvers and not StringNumbersLoader.yaml_path_resolvers
)


def load_recipe_yaml(text: str, path: str) -> Any:
    """Parse rendered recipe text; a syntax error is a RecipeError with the line of ``text``."""
    loader = StringNumbersLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _build(node, {}, set())
        except (_Unusual, RecursionError):
            return loader.construct_document(node)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise RecipeError(path, line, f"invalid YAML after rendering: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise RecipeError(path, None, f"invalid YAML after rendering: {exc}") from None
    finally:
        loader.dispose()
