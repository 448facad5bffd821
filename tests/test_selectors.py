"""Line selectors: one case per rule of conda-build's select_lines / get_selectors."""

from __future__ import annotations

import contextlib

import pytest

from planner.model import RecipeError
from planner.render.selectors import eval_selector, namespace_delta, select_lines, selector_namespace

PY312 = {"python": "3.12.* *_cpython", "numpy": "2"}


@pytest.mark.parametrize(
    ("platform", "expr", "expected"),
    [
        ("linux-64", "linux", True),
        ("linux-64", "osx", False),
        ("linux-64", "unix", True),
        ("win-64", "unix", False),
        ("win-64", "win64", True),
        ("osx-arm64", "osx and arm64", True),
        ("osx-arm64", "x86_64", False),
        ("osx-64", "osx64", True),
        ("linux-aarch64", "aarch64", True),
        ("linux-ppc64le", "ppc64le", True),
        ("linux-s390x", "s390x and linux", True),
        ("linux-64", "linux64", True),
        ("linux-64", "armv7l", False),  # a known arch of another platform is False, not unknown
        ("linux-64", "py>=312", True),
        ("linux-64", "py<312", False),
        ("linux-64", "py3k", True),
        ("linux-64", "py2k", False),
        ("linux-64", "np>=2", True),
        ("linux-64", "target_platform == 'linux-64'", True),
        ("osx-arm64", "build_platform != target_platform", False),
        ("linux-64", "not_a_name_anywhere", False),  # unknown names are False
        ("linux-64", "linux and not unknown_flag", True),
        ("linux-64", "python == '3.12.* *_cpython'", True),  # variant keys as names
        ("linux-64", "numpy == 2", True),  # ints where they parse
        ("linux-64", "environ.get('CF_CUDA_ENABLED', 'False') == 'True'", False),
        ("linux-64", "os.environ.get('X', 'a') == 'a'", True),
    ],
)
def test_eval_selector(platform: str, expr: str, expected: bool) -> None:
    ns = selector_namespace(platform, {**PY312, "target_platform": platform}, {})
    assert eval_selector(expr, ns) is expected


def test_environ_is_given_not_the_shell() -> None:
    ns = selector_namespace("linux-64", PY312, {"CF_CUDA_ENABLED": "True"})
    assert eval_selector("environ.get('CF_CUDA_ENABLED') == 'True'", ns)
    assert eval_selector("CF_CUDA_ENABLED == 'True'", ns)  # env vars are names too


def test_variant_true_false_become_booleans() -> None:
    ns = selector_namespace("linux-64", {"is_python_min": "true", "flag": "False"}, {})
    assert eval_selector("is_python_min", ns) is True
    assert eval_selector("flag", ns) is False


@pytest.mark.parametrize(
    ("line", "kept_on_linux"),
    [
        ("  - gcc  # [linux]", "  - gcc"),
        ("  - clang  # [osx]", None),
        ("  - a  # some comment [linux]", "  - a"),  # selector inside a trailing comment
        ("  - b  [linux]", "  - b"),  # bare brackets at the end also select
        ('  - "foo  # [linux]"', '  - "foo"'),  # a quoted whole line keeps its closing quote
        ("# a comment line [osx]", ""),  # comment lines become blank, never evaluated
        ("  - plain", "  - plain"),
        (
            "  url: https://x/[a](b)  # see [docs](http://y)",
            "  url: https://x/[a](b)  # see [docs](http://y)",
        ),
    ],
)
def test_select_lines_cases(line: str, kept_on_linux: str | None) -> None:
    ns = selector_namespace("linux-64", PY312, {})
    out = select_lines(line + "\n", ns, "meta.yaml")
    if kept_on_linux is None:
        assert out == "\n"
    else:
        assert out == kept_on_linux + "\n"


def test_bad_selector_is_located() -> None:
    ns = selector_namespace("linux-64", PY312, {})
    with pytest.raises(RecipeError) as info:
        select_lines("a: 1\nb: 2  # [linux and (]\n", ns, "recipe/meta.yaml")
    assert info.value.path == "recipe/meta.yaml"
    assert info.value.line == 2
    assert "linux and (" in info.value.message


def test_namespace_delta_matches_a_full_build() -> None:
    base_variant = {**PY312, "zlib": "1", "target_platform": "linux-64"}
    base = selector_namespace("linux-64", base_variant, {})
    other = {**base_variant, "python": "3.10.* *_cpython", "zlib": "2"}
    delta = namespace_delta(base, base_variant, other, "linux-64", {})
    full = selector_namespace("linux-64", other, {})
    skip = {"os", "environ"}  # fresh stand-in objects, equal in content
    assert {k: v for k, v in delta.items() if k not in skip} == {
        k: v for k, v in full.items() if k not in skip
    }
    assert delta["py"] == 310
    assert namespace_delta(base, base_variant, dict(base_variant), "linux-64", {}) is base


def test_noarch_platform_has_no_os() -> None:
    ns = selector_namespace("noarch", PY312, {})
    assert not eval_selector("linux or osx or win or unix", ns)


@pytest.mark.parametrize(
    "expr",
    [
        "__import__('os').system('true')",
        "().__class__.__bases__",
        "open('/etc/passwd')",  # not a safe builtin: an unknown name, so False... never opened
        "10 ** 10 ** 10",
    ],
)
def test_selectors_cannot_escape_or_hang(expr: str) -> None:
    ns = selector_namespace("linux-64", PY312, {})
    with contextlib.suppress(ValueError, TypeError):  # rejected before evaluation
        assert eval_selector(expr, ns) is False


def test_safe_builtins_still_work() -> None:
    ns = selector_namespace("linux-64", PY312, {"N": "3"})
    assert eval_selector("int(environ.get('N', '0')) >= 3 and len('ab') == 2", ns)
