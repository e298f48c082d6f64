"""Typed config fields from ``--set`` strings and TOML values, and their documentation."""

from __future__ import annotations

import pytest

from scenarios.clustering import ClusteringConfig
from scenarios.config import (
    ConfigError,
    coerce_toml,
    config_fields,
    format_value,
    parse_text,
    resolve_config,
    suggest,
)


@pytest.mark.parametrize(
    ("annotation", "text", "value"),
    [
        (int, "32", 32),
        (int, " 7 ", 7),
        (float, "1e-3", 1e-3),
        (float, "4", 4.0),
        (bool, "true", True),
        (bool, "No", False),
        (bool, "1", True),
        (str, "softmax", "softmax"),
        (tuple[float, ...], "1,4,9", (1.0, 4.0, 9.0)),
        (tuple[float, ...], " 0.5 , 2 ", (0.5, 2.0)),
        (tuple[float, ...], "", ()),
        (tuple[str, ...], "softmax,uniform", ("softmax", "uniform")),
        (tuple[int, ...], "3", (3,)),
    ],
)
def test_parse_text_gives_the_field_type(annotation, text, value):
    parsed = parse_text("key", annotation, text)
    assert parsed == value and type(parsed) is type(value)
    if isinstance(value, tuple):
        assert [type(item) for item in parsed] == [type(item) for item in value]


@pytest.mark.parametrize(
    ("annotation", "text"),
    [(int, "abc"), (int, "2.5"), (float, "x"), (float, "inf"), (bool, "maybe"),
     (tuple[float, ...], "1,,2"), (tuple[int, ...], "1,2.5")],
)  # fmt: skip
def test_parse_text_refuses_wrong_types_naming_key_and_value(annotation, text):
    with pytest.raises(ConfigError, match=r"^key=") as error:
        parse_text("key", annotation, text)
    assert repr(text) in str(error.value)


def test_coerce_toml_accepts_ints_as_floats_and_lists_as_tuples():
    assert coerce_toml("T", float, 2) == 2.0 and isinstance(coerce_toml("T", float, 2), float)
    assert coerce_toml("betas", tuple[float, ...], [1, 4.5]) == (1.0, 4.5)
    for annotation, value in [(int, True), (int, 1.0), (bool, 1), (str, 3), (float, "1")]:
        with pytest.raises(ConfigError, match="expected"):
            coerce_toml("key", annotation, value)
    with pytest.raises(ConfigError, match="array"):
        coerce_toml("betas", tuple[float, ...], "1,4")


def test_every_field_is_documented_and_its_default_round_trips():
    infos = config_fields(ClusteringConfig)
    assert [info.name for info in infos][:5] == ["n", "d", "T", "betas", "normalizations"]
    for info in infos:
        assert len(info.help) > 10, f"{info.name} has no meaning in --help"
        assert parse_text(info.name, info.type, format_value(info.default)) == info.default


def test_resolve_config_applies_file_then_set_then_overrides(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('n = 10\nd = 4\nnormalizations = ["uniform"]\nseed = 1\n')
    config = resolve_config(
        ClusteringConfig,
        toml_path=toml,
        assignments=["d=5", "seed=2"],
        overrides={"seed": 3, "device": None},
    )
    assert (config.n, config.d, config.seed) == (10, 5, 3)
    assert config.normalizations == ("uniform",) and config.device == "cpu"


def test_unknown_keys_get_the_closest_suggestion():
    assert suggest("bta", ["betas", "n", "d"]) == "betas"
    assert suggest("Seed", ["seed", "T"]) == "seed"
    assert suggest("zzzz", ["betas"]) is None
    expected = r"'num_time'.*did you mean 'num_times'.*valid keys: n, d"
    with pytest.raises(ConfigError, match=expected):
        resolve_config(ClusteringConfig, assignments=["num_time=3"], scenario="clustering")


def test_validate_raises_value_errors_for_direct_construction():
    with pytest.raises(ValueError, match="n=0"):
        ClusteringConfig(n=0).validate()
    with pytest.raises(ValueError, match="normalizations"):
        ClusteringConfig(normalizations=("softmax", "softmax")).validate()
    with pytest.raises(ValueError, match="betas=800"):
        ClusteringConfig(betas=(800.0,)).validate()  # uniform weights e^800 / n overflow
    ClusteringConfig(betas=(800.0,), normalizations=("softmax",)).validate()
