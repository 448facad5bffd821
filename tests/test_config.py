"""planner.inputs.config: stackplan.yaml defaults, every field, located errors, schema in step with code."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.inputs.config import StackplanConfig, load_config, schema
from planner.model import RecipeError, Variant
from planner.platforms import ALL_SUBDIRS, BUILD_SUBDIRS


def write(root: Path, text: str, name: str = "stackplan.yaml") -> Path:
    p = root / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text))
    return p


def test_no_file_means_defaults(tmp_path):
    cfg = load_config(tmp_path)
    assert cfg.path is None and cfg.root == tmp_path
    assert cfg.platforms == BUILD_SUBDIRS
    assert cfg.builder == "rattler-build" and cfg.noarch_platform == "linux-64"
    assert cfg.gpu_variant_keys == ("cuda_compiler_version",)
    assert (cfg.retries, cfg.retry_delay) == (2, 10.0)
    assert cfg.variant_configs == cfg.exclusive_configs == cfg.channels == ()
    assert dict(cfg.build_platforms) == dict(cfg.providers) == dict(cfg.environ) == {}
    assert cfg.skiplist is None and cfg.durations is None
    assert cfg.render_options().variant_configs == ()


def test_every_field_read_and_paths_resolved_against_the_file(tmp_path):
    conf = tmp_path / "conf"
    write(conf, "python: ['3.12']\n", "pinning.yaml")
    write(conf, "zlib: ['1.3']\n", "extra/cbc.yaml")
    write(conf, "# broken ones\nrecipes/bad  # reason\n\nrecipes/worse/\n", "skip.txt")
    (conf / "durations.json").write_text(json.dumps({"recipes/a": 120, "libfoo": 3.5}))
    f = write(
        conf,
        """\
        platforms: [linux-64, osx-arm64, noarch]
        variant_configs: [extra/cbc.yaml]
        exclusive_configs: [pinning.yaml]
        channels: [conda-forge, file:///srv/channel]
        builder: dry-run
        noarch_platform: linux-aarch64
        build_platforms: {osx-arm64: osx-64}
        providers: {libblas: recipes/openblas}
        skiplist: skip.txt
        durations: durations.json
        environ: {CI: true, BUILD_LEVEL: 3}
        gpu_variant_keys: [cuda_compiler_version, rocm]
        retries: 0
        retry_delay: 2.5
        """,
    )
    cfg = load_config(tmp_path, f)
    assert cfg.path == f
    assert cfg.platforms == ("linux-64", "osx-arm64", "noarch")
    assert cfg.variant_configs == (conf / "extra/cbc.yaml",)
    assert cfg.exclusive_configs == (conf / "pinning.yaml",)
    assert cfg.channels == ("conda-forge", "file:///srv/channel")
    assert cfg.builder == "dry-run" and cfg.noarch_platform == "linux-aarch64"
    assert dict(cfg.build_platforms) == {"osx-arm64": "osx-64"}
    assert dict(cfg.providers) == {"libblas": "recipes/openblas"}
    assert cfg.read_skiplist() == {"recipes/bad", "recipes/worse"}
    assert cfg.read_durations() == {"recipes/a": 120.0, "libfoo": 3.5}
    assert dict(cfg.environ) == {"BUILD_LEVEL": "3", "CI": "true"}
    assert cfg.gpu_variant_keys == ("cuda_compiler_version", "rocm")
    assert (cfg.retries, cfg.retry_delay) == (0, 2.5)
    assert cfg.build_platform("osx-arm64") == "osx-64"
    assert cfg.build_platform("linux-64") == "linux-64"
    assert cfg.build_platform("noarch") == "linux-aarch64"
    opts = cfg.render_options(
        variant_configs=[tmp_path / "cli.yaml"], environ={"CI": "false"}, platform="osx-arm64"
    )
    assert opts.exclusive_configs == (conf / "pinning.yaml",)
    assert opts.variant_configs == (conf / "extra/cbc.yaml", tmp_path / "cli.yaml")
    assert opts.environ == Variant({"CI": "false", "BUILD_LEVEL": "3"})
    assert opts.build_platform == "osx-64"
    assert cfg.render_options(platform="linux-64").build_platform is None


def test_root_stackplan_yaml_is_found(tmp_path):
    write(tmp_path, "platforms: [win-64]\n")
    assert load_config(tmp_path).platforms == ("win-64",)


def test_empty_file_is_defaults(tmp_path):
    write(tmp_path, "# nothing yet\n")
    assert load_config(tmp_path).platforms == StackplanConfig().platforms


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("channels: [a]\nplatfroms: [linux-64]\n", 2, "unknown key 'platfroms' (did you mean 'platforms'?)"),
        ("platforms:\n  - linux-64\n  - amiga\n", 3, "'amiga' is not one of"),
        ("builder: make\n", 1, "builder: 'make' is not one of"),
        ("retries: -1\n", 1, "retries"),
        ("retries: lots\n", 1, "retries"),
        ("build_platforms:\n  osx-arm64: beos\n", 2, "beos"),
        ("build_platforms:\n  plan9: linux-64\n", 2, "plan9"),
        ("channels: [a\nbuilder: x\n", 2, "invalid YAML"),
        ("channels: [a]\nchannels: [b]\n", 2, "invalid YAML"),
        ("- just\n- a list\n", 1, "must be a mapping"),
        ("variant_configs: [missing.yaml]\n", 1, "file not found"),
        ("skiplist: nope.txt\n", 1, "file not found"),
        ("noarch_platform: noarch\n", 1, "noarch_platform"),
    ],
)
def test_bad_files_give_the_line_of_the_offending_key(tmp_path, text, line, words):
    f = write(tmp_path, text)
    with pytest.raises(RecipeError) as info:
        load_config(tmp_path)
    err = info.value
    assert err.path == str(f)
    assert err.line == line, str(err)
    assert words in err.message, str(err)


def test_a_named_config_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(RecipeError, match="not found"):
        load_config(tmp_path, tmp_path / "elsewhere.yaml")


def test_schema_platform_enums_are_the_platform_table():
    defs = schema()["$defs"]
    assert tuple(defs["platform"]["enum"]) == ALL_SUBDIRS
    assert tuple(defs["build_platform"]["enum"]) == BUILD_SUBDIRS


def test_schema_names_exactly_the_dataclass_fields():
    fields = set(StackplanConfig.__dataclass_fields__) - {"root", "path"}
    assert set(schema()["properties"]) == fields


keys = st.sampled_from([*schema()["properties"], "platfroms", "chanels", "x"])
values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["linux-64", "amiga", "a.yaml", ""])
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["osx-64", "k"]), inner)
    ),
    max_leaves=6,
)


def block_yaml(data) -> str:
    from ruamel.yaml import YAML

    out = io.StringIO()
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    yaml.dump(data, out)
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(keys, values, max_size=5), junk=st.text(max_size=20), use_junk=st.booleans())
def test_any_file_gives_a_config_or_a_located_error(tmp_path_factory, data, junk, use_junk):
    root = tmp_path_factory.mktemp("cfg")
    text = junk if use_junk else block_yaml(data)
    f = write(root, text)
    try:
        cfg = load_config(root)
    except RecipeError as err:
        assert err.path == str(f)
        assert err.line is None or 1 <= err.line <= text.count("\n") + 2
        assert err.message
    else:
        assert isinstance(cfg, StackplanConfig)
        assert set(cfg.platforms) <= set(ALL_SUBDIRS)
