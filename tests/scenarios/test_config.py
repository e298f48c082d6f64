"""Typed config fields from ``--set`` strings and TOML values, their declared checks and their
documentation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from scenarios.clustering import ClusteringConfig
from scenarios.harness.checks import (
    at_least,
    boolean,
    int_in,
    items,
    non_negative,
    one_of,
    positive,
    real_in,
    refuse,
    require,
    suggest,
)
from scenarios.harness.config import (
    ConfigError,
    ScenarioConfig,
    coerce_toml,
    config_fields,
    format_value,
    param,
    parse_text,
    resolve_config,
)
from scenarios.harness.registry import all_scenarios


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


def test_clustering_fields_come_after_the_base_fields_in_declaration_order():
    infos = config_fields(ClusteringConfig)
    names = [info.name for info in infos]
    assert names[:8] == ["seed", "figures", "threads", "n", "d", "T", "betas", "normalizations"]
    for info in infos:
        assert len(info.help) > 10, f"{info.name} has no meaning in --help"


@pytest.mark.parametrize("name", list(all_scenarios()))
def test_every_field_is_documented_and_its_default_round_trips(name):
    config_class = all_scenarios()[name].config
    for info in config_fields(config_class):
        assert info.help.strip(), f"{name}: {info.name} has no meaning in --help"
        assert parse_text(info.name, info.type, format_value(info.default)) == info.default
        if info.check is not None:
            info.check(info.name, info.default)  # every default passes its own check
    config_class()  # and the defaults together pass cross_check


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
    expected = r"'num_time'.*did you mean 'num_times'.*valid keys: seed, figures, threads, n, d"
    with pytest.raises(ConfigError, match=expected):
        resolve_config(ClusteringConfig, assignments=["num_time=3"], scenario="clustering")


def test_construction_refuses_a_bad_field_with_one_line():
    with pytest.raises(ValueError, match=r"^n=0 is not accepted; expected an integer >= 1$"):
        ClusteringConfig(n=0)
    with pytest.raises(ValueError, match=r"^normalizations='softmax','softmax' is not accepted"):
        ClusteringConfig(normalizations=("softmax", "softmax"))
    with pytest.raises(ValueError, match=r"^betas=800 is not accepted"):
        ClusteringConfig(betas=(800.0,))  # uniform weights e^800 / n overflow (cross_check)
    ClusteringConfig(betas=(800.0,), normalizations=("softmax",))


def test_construction_refuses_a_value_of_the_wrong_type():
    with pytest.raises(ValueError, match=r"^n=2.5 is not accepted; expected int$"):
        ClusteringConfig(n=2.5)
    with pytest.raises(ValueError, match=r"^figures=1 is not accepted; expected bool$"):
        ClusteringConfig(figures=1)
    with pytest.raises(ValueError, match=r"^betas=1 is not accepted; expected tuple\[float, ...\]"):
        ClusteringConfig(betas=1.0)
    assert ClusteringConfig(T=2).T == 2  # ints are accepted as floats


@pytest.mark.parametrize(
    ("check", "good", "bad", "phrase"),
    [
        (at_least(2), [2, 10], [1, 2.0, True, "3"], "an integer >= 2"),
        (int_in(1, 6), [1, 6], [0, 7, 1.5], "an integer in [1, 6]"),
        (positive(), [1e-9, 3], [0, -1.0, float("nan"), float("inf")], "a finite number > 0"),
        (non_negative(), [0, 0.5], [-1e-9, float("inf")], "a finite number >= 0"),
        (real_in(0, 1, open_low=True), [1, 0.5], [0, 1.5], "a number in (0, 1]"),
        (one_of(("a", "b")), ["a", "b"], ["c", 1], "one of a, b"),
        (boolean(), [True, False], [1, "true"], "true or false"),
        (
            items(positive(), max_count=2),
            [(1.0,), (1.0, 2.0)],
            [(), (1.0, 1.0), (1.0, 2.0, 3.0), (-1.0,), [1.0]],
            "1 to 2 distinct values, each a finite number > 0",
        ),
        (
            items(one_of(("a", "b")), min_count=0),
            [(), ("a", "b")],
            [("a", "a"), ("c",)],
            "any number of distinct values, each one of a, b",
        ),
    ],
)
def test_each_check_accepts_refuses_and_says_what_it_accepts(check, good, bad, phrase):
    assert check.accepted == phrase
    for value in good:
        check("key", value)
    for value in bad:
        with pytest.raises(ValueError, match=r"^key=.* is not accepted") as error:
            check("key", value)
        assert str(error.value).endswith(f"; expected {phrase}")
        assert "\n" not in str(error.value)


def test_a_misspelled_choice_is_answered_with_the_closest():
    with pytest.raises(ValueError, match=r"'softmx' is not accepted \(did you mean 'softmax'\?\)"):
        one_of(("softmax", "uniform"))("normalization", "softmx")


def test_refuse_and_require_give_the_same_one_line_form():
    with pytest.raises(ValueError, match=r"^k=3 is not accepted; expected at most 2$"):
        refuse("k", 3, "at most 2")
    require(True, "k", 3, "at most 2")
    with pytest.raises(ValueError, match=r"^k='x' is not accepted; expected a name$"):
        require(False, "k", "x", "a name")


@dataclass(frozen=True)
class _Pair(ScenarioConfig):
    """A config with one cross-field rule: low <= high."""

    low: int = param(0, "lower end", at_least(0))
    high: int = param(1, "upper end", at_least(0))

    def cross_check(self) -> None:
        require(self.low <= self.high, "low", self.low, f"at most high = {self.high}")


def test_cross_check_runs_after_the_field_checks():
    assert (_Pair(low=2, high=3).low, _Pair().seed, _Pair().figures) == (2, 0, True)
    with pytest.raises(ValueError, match=r"^high=-1 is not accepted; expected an integer >= 0$"):
        _Pair(low=5, high=-1)  # the field's own check, before the rule that ties the two
    with pytest.raises(ValueError, match=r"^low=5 is not accepted; expected at most high = 3$"):
        _Pair(low=5, high=3)
    with pytest.raises(ConfigError, match=r"^low=5 is not accepted"):
        resolve_config(_Pair, assignments=["low=5", "high=3"])


def test_every_config_has_seed_figures_and_threads_checked():
    with pytest.raises(ValueError, match=r"^seed=-1 is not accepted; expected an integer in"):
        ClusteringConfig(seed=-1)
    with pytest.raises(ValueError, match=r"^seed=9223372036854775808 is not accepted"):
        ClusteringConfig(seed=2**63)
    with pytest.raises(ValueError, match=r"^threads=-1 is not accepted; expected an integer in"):
        _Pair(threads=-1)
    names = [info.name for info in config_fields(_Pair)]
    assert names == ["seed", "figures", "threads", "low", "high"]


def test_meaning_is_the_help_followed_by_the_check_phrase():
    infos = {info.name: info for info in config_fields(ClusteringConfig)}
    assert infos["n"].meaning == "number of tokens (an integer >= 1)"
    no_check = next(info for info in config_fields(_Pair) if info.name == "low")
    assert no_check.meaning.startswith("lower end (")
