"""Renderer invariants over generated valid recipes, in both dialects.

One hypothesis strategy draws a *recipe description* (:class:`Spec`: name, version, build number,
host/run requirements that may name variant keys, selector-guarded lines, a Jinja reference to a
variant key, ``noarch: python``, a platform to skip, outputs); :func:`to_v0` writes it as a
conda-build ``meta.yaml`` and :func:`to_v1` as a rattler-build ``recipe.yaml``. Every property is
then checked against the real renderers (no stand-ins), with the one small variant config below
(python/numpy zipped, libfoo with three values).

What a description says decides what the render must show, so the expectations are computed from
the description, never from a render.
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from planner.model import PlatformRender, RecipeFormat, RecipeSource, RenderOptions
from planner.render.recipe import render_recipe
from planner.render.variants import internal_defaults

PLATFORMS = ("linux-64", "osx-arm64", "win-64")
OS_OF = {"linux-64": "linux", "osx-arm64": "osx", "win-64": "win"}

#: The applied config: python and numpy zipped (2 rows), libfoo 3 values, libbar 1 value.
CONFIG = {
    "python": ["3.11.* *_cpython", "3.12.* *_cpython"],
    "numpy": ["1.26", "2.0"],
    "libfoo": ["1.0", "2.0", "3.0"],
    "libbar": ["7"],
}
ZIP = [["python", "numpy"]]
CONFIG_TEXT = "".join(f"{k}:\n" + "".join(f'  - "{v}"\n' for v in vs) for k, vs in CONFIG.items()) + (
    # block style: conda-build reads a line ending in "[...]" as a selector, even without "#"
    "zip_keys:\n  -\n    - python\n    - numpy\n"
)
GROUPS = {
    "python": ("python", "numpy"),
    "numpy": ("python", "numpy"),
    "libfoo": ("libfoo",),
    "libbar": ("libbar",),
}

PLAIN = ("zlib", "libxml2", "six", "requests", "openssl-tools")
SELECTORS = ("linux", "osx", "win", "unix")
SELECTED = {  # which OS each selector is true on
    "linux": {"linux"},
    "osx": {"osx"},
    "win": {"win"},
    "unix": {"linux", "osx"},
}

# rattler-build and conda-build add these to a variant themselves (the target, the build platform)
BUILTIN_KEYS = {"target_platform", "build_platform"}


@pytest.fixture(scope="module")
def options(tmp_path_factory: pytest.TempPathFactory) -> RenderOptions:
    d = tmp_path_factory.mktemp("cfg")
    f = d / "conda_build_config.yaml"
    f.write_text(CONFIG_TEXT)
    return RenderOptions(exclusive_configs=(f,))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recipes")


# --------------------------------------------------------------------------- the description


@dataclass(frozen=True)
class Spec:
    name: str
    version: str
    version_via_jinja: bool
    build_number: int
    host: tuple[str, ...]  # plain names and variant keys
    run: tuple[str, ...]
    selected: tuple[tuple[str, str], ...]  # (selector, marker package) in run
    jinja_key: str | None  # a variant key referenced as a Jinja variable in run
    noarch_python: bool
    skip_on: str | None  # "linux" | "osx" | "win"
    outputs: tuple[str, ...]  # output names (multi-output recipe) or ()

    def used_keys(self) -> set[str]:
        used = {h for h in self.host if h in CONFIG}
        if self.jinja_key:
            used.add(self.jinja_key)
        return used

    def expected_variant_count(self) -> int:
        """The product over the used zip groups of the group's length (python's group collapses to
        one row for noarch: python)."""
        groups = {GROUPS[k] for k in self.used_keys()}
        if self.noarch_python:
            groups.discard(GROUPS["python"])
        return math.prod(min(len(CONFIG[k]) for k in g) for g in groups)

    def markers_on(self, os_: str) -> set[str]:
        return {m for sel, m in self.selected if os_ in SELECTED[sel]}

    def markers_off(self, os_: str) -> set[str]:
        return {m for sel, m in self.selected if os_ not in SELECTED[sel]}

    def package_names(self) -> set[str]:
        return set(self.outputs) if self.outputs else {self.name}


names = st.from_regex(r"[a-z][a-z0-9]{1,7}", fullmatch=True).map(lambda s: f"pk-{s}")
versions = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 99)).map(
    lambda t: ".".join(map(str, t))
)


@st.composite
def specs(draw: st.DrawFn, *, allow_outputs: bool = True) -> Spec:
    name = draw(names)
    noarch = draw(st.booleans())
    host_pool = (*PLAIN, "libfoo", "libbar") if noarch else (*PLAIN, *CONFIG)
    host = draw(st.lists(st.sampled_from(host_pool), unique=True, max_size=4))
    if noarch:
        host = ["python", *host]
    run = draw(st.lists(st.sampled_from(PLAIN), unique=True, max_size=3))
    sels = draw(st.lists(st.sampled_from(SELECTORS), max_size=4))
    selected = tuple((s, f"sel-{s}-{i}") for i, s in enumerate(sels))
    jinja_key = draw(st.none() | st.sampled_from(("libfoo", "libbar") if noarch else tuple(CONFIG)))
    outs: tuple[str, ...] = ()
    if allow_outputs and draw(st.booleans()):
        n = draw(st.integers(1, 3))
        outs = tuple(f"{name}-o{i}" for i in range(n))
    return Spec(
        name=name,
        version=draw(versions),
        version_via_jinja=draw(st.booleans()),
        build_number=draw(st.integers(0, 40)),
        host=tuple(host),
        run=tuple(run),
        selected=selected,
        jinja_key=jinja_key,
        noarch_python=noarch,
        skip_on=draw(st.none() | st.sampled_from(("linux", "osx", "win"))),
        outputs=outs,
    )


# --------------------------------------------------------------------------- the two dialects


def to_v0(s: Spec) -> str:
    lines = [f'{{% set version = "{s.version}" %}}'] if s.version_via_jinja else []
    version = "{{ version }}" if s.version_via_jinja else f'"{s.version}"'
    lines += [
        "package:",
        f"  name: {s.name}",
        f"  version: {version}",
        "",
        "build:",
        f"  number: {s.build_number}",
    ]
    if s.noarch_python:
        lines.append("  noarch: python")
    if s.skip_on:
        lines.append(f"  skip: true  # [{s.skip_on}]")

    def reqs(indent: str) -> list[str]:
        out = [f"{indent}requirements:", f"{indent}  host:"]
        out += [f"{indent}    - {h}" for h in s.host] or []
        out.append(f"{indent}  run:")
        out += [f"{indent}    - {r}" for r in s.run]
        out += [f"{indent}    - {m}  # [{sel}]" for sel, m in s.selected]
        if s.noarch_python:
            out.append(f"{indent}    - python")
        return out

    if s.outputs:  # conda-build's outputs do not inherit the top-level build.noarch
        lines.append("outputs:")
        for o in s.outputs:
            lines += [f"  - name: {o}"]
            lines += ["    build:", "      noarch: python"] if s.noarch_python else []
            lines += reqs("    ")
    else:
        lines += reqs("")
    if s.jinja_key:  # a reference outside requirements still makes the key used
        lines += ["", "about:", f'  summary: "built with {s.jinja_key} {{{{ {s.jinja_key} }}}}"']
    return "\n".join(lines) + "\n"


def to_v1(s: Spec) -> str:
    lines = ["context:", f'  version: "{s.version}"', ""] if s.version_via_jinja else []
    version = "${{ version }}" if s.version_via_jinja else f'"{s.version}"'
    head = "recipe" if s.outputs else "package"
    lines += [
        f"{head}:",
        f"  name: {s.name}",
        f"  version: {version}",
        "",
        "build:",
        f"  number: {s.build_number}",
    ]
    if s.noarch_python:
        lines.append("  noarch: python")
    if s.skip_on:
        lines += ["  skip:", f"    - {s.skip_on}"]

    def reqs(indent: str) -> list[str]:
        out = [f"{indent}requirements:", f"{indent}  host:"]
        out += [f"{indent}    - {h}" for h in s.host]
        out.append(f"{indent}  run:")
        out += [f"{indent}    - {r}" for r in s.run]
        for sel, m in s.selected:
            out += [f"{indent}    - if: {sel}", f"{indent}      then: {m}"]
        if s.noarch_python:
            out.append(f"{indent}    - python")
        if out[-1].endswith("run:"):
            out.pop()
        if out[-1].endswith("host:"):
            out.pop()
        if out[-1].endswith("requirements:"):
            out.pop()
        return out

    if s.outputs:
        lines.append("outputs:")
        for o in s.outputs:
            lines += ["  - package:", f"      name: {o}", *reqs("    ")]
    else:
        lines += reqs("")
    if s.jinja_key:
        lines += ["", "about:", f'  summary: "built with {s.jinja_key} ${{{{ {s.jinja_key} }}}}"']
    return "\n".join(lines) + "\n"


WRITERS = {RecipeFormat.V0: (to_v0, "meta.yaml"), RecipeFormat.V1: (to_v1, "recipe.yaml")}


def write(workdir: Path, spec: Spec, fmt: RecipeFormat) -> RecipeSource:
    """A fresh dir per example (renderers may cache by path)."""
    writer, fname = WRITERS[fmt]
    d = Path(tempfile.mkdtemp(prefix=f"{spec.name}-", dir=workdir))
    (d / fname).write_text(writer(spec))
    return RecipeSource(d, d.name, fmt, d / fname)


def render(src: RecipeSource, options: RenderOptions, platforms=PLATFORMS) -> tuple[PlatformRender, ...]:
    renders = render_recipe(src, platforms, options)
    for r in renders:
        assert r.error is None, f"{r.platform}: {r.error}\n{src.recipe_file.read_text()}"
    return renders


def live_outputs(r: PlatformRender):
    return [o for v in r.variants if not v.skip for o in v.outputs if not o.skip]


def run_names(out) -> set[str]:
    return {spec.split()[0] for spec in out.requirements.run}


# Each v1 example runs rattler-build three times (~5-10 ms each): fewer examples than v0.
EXAMPLES = {RecipeFormat.V0: 60, RecipeFormat.V1: 20}
FORMATS = pytest.mark.parametrize("fmt", [RecipeFormat.V0, RecipeFormat.V1], ids=["v0", "v1"])
SETTINGS = dict(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def _settings(fmt: RecipeFormat):
    return settings(max_examples=EXAMPLES[fmt], **SETTINGS)


# --------------------------------------------------------------------------- the properties


@FORMATS
def test_render_is_deterministic_and_platforms_are_independent(fmt, options, workdir):
    """Same input -> equal renders and byte-equal truth lines; several platforms in one call give
    what each platform gives alone."""

    @_settings(fmt)
    @given(spec=specs())
    def check(spec: Spec) -> None:
        src = write(workdir, spec, fmt)
        first = render(src, options)
        again = render(src, options)
        assert first == again
        dumps = [json.dumps(r.truth_line(), sort_keys=True) for r in first]
        assert dumps == [json.dumps(r.truth_line(), sort_keys=True) for r in again]
        alone = tuple(render(src, options, (p,))[0] for p in reversed(PLATFORMS))
        assert tuple(reversed(alone)) == first

    check()


@FORMATS
def test_literals_selectors_and_skip_come_through(fmt, options, workdir):
    """Name, version and build number unchanged; a ``# [win]`` / ``if: win`` line only on win (and
    so on for each selector); ``skip`` on one OS skips that OS only."""

    @_settings(fmt)
    @given(spec=specs())
    def check(spec: Spec) -> None:
        src = write(workdir, spec, fmt)
        for r in render(src, options):
            os_ = OS_OF[r.platform]
            outs = live_outputs(r)
            if spec.skip_on == os_:
                assert outs == [], f"{r.platform} should be skipped"
                continue
            assert outs, f"{r.platform}: nothing rendered"
            assert {o.name for o in outs} == spec.package_names()
            for o in outs:
                assert (o.version, o.build_number) == (spec.version, spec.build_number)
                assert o.noarch == ("python" if spec.noarch_python else None)
                names_ = run_names(o)
                assert spec.markers_on(os_) <= names_, f"{r.platform}: selected lines missing"
                assert not (spec.markers_off(os_) & names_), f"{r.platform}: a line of another OS"
                assert set(spec.run) <= names_

    check()


@FORMATS
def test_variants_follow_the_used_keys(fmt, options, workdir):
    """Variants hold only config keys; no used key -> one variant; used keys expand to the product
    of their zip groups' lengths (zipped keys together); noarch: python never expands over python;
    variant values are values the config lists, zipped keys in the same row."""
    allowed = (
        set(CONFIG) | BUILTIN_KEYS | set(internal_defaults("linux-64")) | set(internal_defaults("win-64"))
    )

    @_settings(fmt)
    @given(spec=specs(allow_outputs=False))
    def check(spec: Spec) -> None:
        src = write(workdir, spec, fmt)
        for r in render(src, options):
            if spec.skip_on == OS_OF[r.platform]:
                continue
            jobs = [v for v in r.variants if not v.skip]
            assert len(jobs) == spec.expected_variant_count(), (r.platform, [j.variant for j in jobs])
            pythons = set()
            for job in jobs:
                for out in job.outputs:
                    assert set(out.variant) <= allowed, out.variant
                    assert set(out.variant) <= set(job.variant)
                for key in spec.used_keys():
                    if key in job.variant:
                        assert job.variant[key] in CONFIG[key]
                for a, b in itertools.combinations(ZIP[0], 2):
                    if a in job.variant and b in job.variant:
                        assert CONFIG[a].index(job.variant[a]) == CONFIG[b].index(job.variant[b])
                pythons.add(job.variant.get("python"))
            if spec.noarch_python:
                assert len(pythons) <= 1
            if not spec.used_keys():
                assert len(jobs) == 1
            # the used keys that vary are in the variant (they tell the jobs apart)
            for key in spec.used_keys():
                if len(CONFIG[key]) > 1 and not (spec.noarch_python and key in GROUPS["python"]):
                    assert all(key in j.variant for j in jobs), (key, [j.variant for j in jobs])

    check()


# --------------------------------------------------------------------------- v1 fast path


def _items(raw: list[dict]) -> list[str]:
    return [
        json.dumps({"recipe": i["recipe"], "variant": i["build_configuration"]["variant"]}, sort_keys=True)
        for i in raw
    ]


SKIPS = st.lists(
    st.sampled_from(['match(python, "<3.12")', "win", "osx and arm64", 'libfoo == "2.0"', "false", "unix"]),
    max_size=2,
)


@settings(max_examples=40, **SETTINGS)
@given(spec=specs(), skips=SKIPS, output_skip=st.booleans(), local=st.sampled_from(["", "libfoo", "python"]))
def test_v1_fast_path_equals_rattler_build_render_only(spec, skips, output_skip, local, options, workdir):
    """``render_fast`` (cached VariantConfig + ``Stage0Recipe.render``, skip and de-duplication done
    by us) gives exactly the items ``rattler-build --render-only`` gives, in the same order, or
    declines (only for a skip on a noarch recipe)."""
    from planner.render.v1.fast import render_fast
    from planner.render.v1.render import _render_only, rattler_config_files

    text = to_v1(spec)
    if skips:
        skip_yaml = "".join(f"    - {s}\n" for s in skips)
        if "  skip:\n" in text:
            text = text.replace("  skip:\n", "  skip:\n" + skip_yaml, 1)
        else:
            text = text.replace("build:\n", "build:\n  skip:\n" + skip_yaml, 1)
    if output_skip and spec.outputs:  # the first output has its own condition too
        first = f"      name: {spec.outputs[0]}\n"
        text = text.replace(first, first + '    build:\n      skip:\n        - libfoo == "3.0"\n', 1)
        text = text.replace("  - package:\n", "  - package:\n", 1)
        if "libfoo" not in spec.host:  # make libfoo a used key so the condition has something to test
            text = text.replace(first, first + "    about:\n      summary: ${{ libfoo }}\n", 1)
    src = write(workdir, spec, RecipeFormat.V1)
    src.recipe_file.write_text(text)
    if local:  # a recipe-local variants.yaml overrides the global config for one key
        (src.path / "variants.yaml").write_text(f'{local}:\n  - "9.0"\n  - "{CONFIG[local][0]}"\n')
        src = RecipeSource(src.path, src.rel, src.format, src.recipe_file, (src.path / "variants.yaml",))
    configs = rattler_config_files(options.exclusive_configs)
    for platform in PLATFORMS:
        slow = _render_only(src.recipe_file, platform, platform, configs, {})
        try:
            fast = render_fast(src, platform, platform, configs, {})
        except RuntimeError:  # the fast path declines (render_v1 then uses build_recipes)
            event("fast path declined")
            assert spec.noarch_python and (skips or spec.skip_on or output_skip), "declined without a reason"
            continue
        assert _items(fast) == _items(slow), (platform, text)


DOUBTFUL = (
    "foo >=>1",
    "bar 1.26",
    "${{ undefined_name }}",
    "${{ compiler('c') }}",
    "${{ stdlib('c') }}",
    "${{ pin_subpackage('not-an-output') }}",
    "${{ pin_compatible('libfoo') }}",
    "${{ libfoo | version_to_buildstring }}",
    "baz ${{ libfoo }}.*",
)


@settings(max_examples=30, **SETTINGS)
@given(
    spec=specs().map(lambda s: replace(s, run=s.run or ("six",))),
    extra=st.lists(st.sampled_from(DOUBTFUL), min_size=1, max_size=2, unique=True),
)
def test_v1_fast_path_fails_exactly_when_rattler_build_does(spec, extra, options, workdir):
    """A requirement rattler-build may refuse: the fast path gives the same items, or raises exactly
    when ``--render-only`` raises (then ``render_v1`` asks ``build_recipes`` and reports its error)."""
    from planner.render.v1.fast import render_fast
    from planner.render.v1.render import _render_only, rattler_config_files

    src = write(workdir, spec, RecipeFormat.V1)
    lines = src.recipe_file.read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if line.strip() == "run:")
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())] + "  "
    lines[at + 1 : at + 1] = [f'{indent}- "{e}"' if ": " in e else f"{indent}- {e}" for e in extra]
    src.recipe_file.write_text("\n".join(lines))
    configs = rattler_config_files(options.exclusive_configs)
    for platform in PLATFORMS:
        try:
            slow = _items(_render_only(src.recipe_file, platform, platform, configs, {}))
        except Exception:
            slow = None
        try:
            fast = _items(render_fast(src, platform, platform, configs, {}))
        except RuntimeError as exc:
            if "declin" in str(exc) or "noarch" in str(exc):
                continue
            fast = None
        except Exception:
            fast = None
        event("both refuse" if slow is None else "both render")
        assert fast == slow, (platform, src.recipe_file.read_text())


@FORMATS
def test_the_noarch_target_holds_exactly_the_noarch_outputs(fmt, options, workdir):
    """Rendered for the ``noarch`` target, a noarch: python recipe gives its packages once (one
    variant: python is not expanded) and an arch-specific recipe gives nothing, in both dialects."""

    @_settings(fmt)
    @given(spec=specs())
    def check(spec: Spec) -> None:
        src = write(workdir, spec, fmt)
        (r,) = render(src, options, ("noarch",))
        outs = live_outputs(r)
        if not spec.noarch_python or spec.skip_on == "linux":  # noarch builds on linux-64
            assert outs == [], [o.name for o in outs]
            return
        assert {o.name for o in outs} == spec.package_names()
        if not spec.outputs:  # (a key referenced at the top level is not used by an output)
            assert len(outs) == spec.expected_variant_count()
        assert all(o.noarch == "python" for o in outs)
        assert len({o.variant.get("python") for o in outs}) == 1

    check()
