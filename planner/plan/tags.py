"""The tag format: ``kind:value`` strings that plans and Prefect runs carry, and how to read them back.

A plan node's tags (``package:``, ``recipe:``) are written by the planner; a run's tags (``plan:``,
``platform:``, ``pr:``, ``event:``) by ``flows``; the history, status and monitor code reads them back.
All of them spell and parse a tag here, so a search by tag finds what a run was given.

>>> plan_tag("0123456789abcdef")
'plan:0123456789ab'
>>> tag_values(["stackplan", "package:zlib", "package:libz"], PACKAGE)
['zlib', 'libz']
"""

from __future__ import annotations

from collections.abc import Iterable

#: Every stackplan run carries this tag.
BASE_TAG = "stackplan"
PLAN = "plan:"
PLATFORM = "platform:"
PR = "pr:"
PACKAGE = "package:"
RECIPE = "recipe:"
EVENT = "event:"
#: How many hex digits of the plan hash a ``plan:`` tag keeps.
PLAN_HASH_CHARS = 12


def plan_tag(plan_hash: str) -> str:
    return f"{PLAN}{plan_hash[:PLAN_HASH_CHARS]}"


def platform_tag(platform: str) -> str:
    return f"{PLATFORM}{platform}"


def pr_tag(pr: int) -> str:
    return f"{PR}{pr}"


def package_tag(name: str) -> str:
    return f"{PACKAGE}{name}"


def recipe_tag(recipe: str) -> str:
    return f"{RECIPE}{recipe}"


def event_tag(event: str) -> str:
    return f"{EVENT}{event}"


def tag_values(tags: Iterable[str] | None, prefix: str) -> list[str]:
    """The values of the tags of one kind (``prefix`` is one of the kinds above), in order."""
    return [t[len(prefix) :] for t in tags or () if t.startswith(prefix)]
