"""PR text stays text: how recipe-derived strings enter Markdown, mermaid and DOT.

Every name, version, spec, warning and error message in a plan comes from a pull request, and every
byte of a pull request is hostile. In a GitHub comment or commit status an unescaped string can
@-mention people or teams, add links and images, headings, HTML (``<details>``, ``<!-- -->``), or a
fake "all green" line. So the exporters put every such string through :func:`code` (a code span:
GitHub renders its content literally, no mention, link or HTML) or :func:`plain` (escaped text where a
code span cannot go). Our own words (counts, platform names from the fixed table) are written as is.

>>> code("@octocat please look")
'`@octocat please look`'
>>> code("a`b")
'`` a`b ``'
>>> plain("<!-- x --> @team [a](http://e.org)")
'&lt;&#33;-- x --&gt; &#64;team &#91;a&#93;(http&#58;//e.org)'
"""

from __future__ import annotations

import re
import unicodedata

#: Longest recipe-derived string kept in a comment (a warning can quote a whole recipe line).
MAX_TEXT = 300

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: object, limit: int = MAX_TEXT) -> str:
    """One line of printable text, at most ``limit`` characters: control and bidi/format characters
    (which can make text read differently than it is) dropped, newlines folded to spaces."""
    s = str(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    s = _CONTROL.sub("", s)
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Cf")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def code(text: object, limit: int = MAX_TEXT, table: bool = False) -> str:
    """``text`` as a Markdown code span: rendered literally by GitHub (no mention, link, HTML,
    heading). A fence longer than any backtick run inside; ``table=True`` escapes ``|`` (a table cell
    ends at an unescaped pipe even inside a code span)."""
    s = clean(text, limit)
    if not s:
        return "` `"
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or longest else ""
    if table:
        s = s.replace("|", "\\|")
    return f"{fence}{pad}{s}{pad}{fence}"


_PLAIN = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "@": "&#64;",
    "[": "&#91;",
    "]": "&#93;",
    "#": "&#35;",
    "|": "&#124;",
    "`": "&#96;",
    "*": "&#42;",
    "_": "&#95;",
    "~": "&#126;",
    "!": "&#33;",
    ":": "&#58;",
}
_PLAIN_RE = re.compile("[" + re.escape("".join(_PLAIN)) + "]")


def plain(text: object, limit: int = MAX_TEXT) -> str:
    """``text`` escaped for Markdown/HTML where a code span cannot go (inside ``<summary>``): every
    character that could start markup, a mention, an emoji shortcode or a link is an HTML entity."""
    return _PLAIN_RE.sub(lambda m: _PLAIN[m.group(0)], clean(text, limit))
