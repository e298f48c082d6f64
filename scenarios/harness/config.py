"""Scenario configs: fields declared once, read from ``--set key=value`` strings and TOML files.

A scenario's config is a frozen dataclass deriving from ``ScenarioConfig`` whose fields are
declared with ``param(default, help, check)``: the default, what the field means and what it
accepts (a ``scenarios.harness.checks.Check``). Constructing a config checks every field's type and
check, then calls ``cross_check()``, which a config overrides only for rules that tie several
fields; ``--help`` prints the same help and check phrases, so the two cannot disagree. Supported
field types: ``int``, ``float``, ``bool``, ``str`` and ``tuple[X, ...]`` of those (written
``1,4,9`` after ``--set`` and ``[1, 4, 9]`` in TOML).

Every problem is reported as one ``ConfigError`` line naming the key, the value received and what
is accepted; ``resolve_config`` applies defaults, then the TOML file, then each ``--set``, then the
explicit overrides (``--seed``, ``--device``), and validates the result.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scenarios.harness.checks import (
    Check,
    boolean,
    did_you_mean,
    int_in,
    is_int,
    is_real,
    seed,
    show,
)
from solvers.threads import SMALL_WORK

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_TYPE_WORDS = {
    int: "an integer",
    float: "a finite real number",
    bool: "a boolean (true/false)",
    str: "a string",
}


class ConfigError(ValueError):
    """A config the scenario cannot run: bad key, type, value or file. One line, for the user."""


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """What ``--help`` shows about one config field."""

    name: str
    type: Any
    default: object
    help: str
    check: Check | None

    @property
    def meaning(self) -> str:
        """The help text followed by what the check accepts."""
        if self.check is None:
            return self.help
        return f"{self.help} ({self.check.accepted})"

    @property
    def type_name(self) -> str:
        """The field type as written in Python, e.g. ``int`` or ``tuple[float, ...]``."""
        return _type_name(self.type)

    @property
    def default_text(self) -> str:
        """The default as it would be written after ``--set key=``."""
        return format_value(self.default)


def config_fields(config_class: type) -> list[FieldInfo]:
    """The fields of a config dataclass, in declaration order, with resolved types."""
    if not dataclasses.is_dataclass(config_class):
        raise TypeError(f"{config_class!r} is not a dataclass")
    hints = typing.get_type_hints(config_class)
    infos = []
    for item in dataclasses.fields(config_class):
        if item.default is not dataclasses.MISSING:
            default = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            raise TypeError(f"config field {item.name!r} of {config_class.__name__} has no default")
        _check_supported(item.name, hints[item.name])
        infos.append(
            FieldInfo(
                item.name,
                hints[item.name],
                default,
                item.metadata.get("help", ""),
                item.metadata.get("check"),
            )
        )
    return infos


def param(default: object, help: str, check: Check | None = None) -> Any:
    """A config field: its ``default``, what it means (``help``) and what it accepts (``check``;
    None when the field's type says it all)."""
    return dataclasses.field(default=default, metadata={"help": help, "check": check})


def threads_field(work: str) -> Any:
    """``threads: int``, 0 (automatic) by default, at most one per CPU core; ``work`` names the
    kernel whose size decides."""
    return param(
        0,
        f"CPU threads for torch during the run; 0: one thread when {work} has at most "
        f"{SMALL_WORK} entries (tiny kernels, where a second thread only adds waiting, badly so "
        "on a busy machine), torch's default otherwise",
        int_in(0, os.cpu_count() or 1),
    )


@dataclasses.dataclass(frozen=True)
class ScenarioConfig:
    """Base of every scenario config: a frozen dataclass checked when it is built.

    Every config has ``seed`` (the runner seeds torch with it; scenarios draw from generators
    seeded by it), ``figures`` and ``threads`` (the runner's thread policy, ``solvers.threads``,
    from the scenario's declared ``work``). Each field's value must have the field's type (ints are
    accepted as floats) and pass its declared check; then ``cross_check()`` tests the rules that
    tie several fields. Any refusal is one ValueError naming the field, the value and what is
    accepted.
    """

    seed: int = param(0, "random seed: every random draw of the run follows from it", seed())
    figures: bool = param(
        True, "write the figures (false: only metrics.json and config.json)", boolean()
    )
    threads: int = threads_field("the run's largest kernel")

    def __post_init__(self) -> None:
        for info in config_fields(type(self)):
            value = getattr(self, info.name)
            _check_type(info, value)
            if info.check is not None:
                info.check(info.name, value)
        self.cross_check()

    def cross_check(self) -> None:
        """Rules that tie several fields (none by default); raise ValueError to refuse."""


def format_value(value: object) -> str:
    """A value in ``--set`` syntax: tuples as comma lists, floats in shortest form."""
    if isinstance(value, tuple | list):
        return ",".join(format_value(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if value == float(f"{value:g}") else repr(value)
    return str(value)


def parse_text(name: str, annotation: Any, text: str) -> object:
    """Convert the string after ``--set name=`` to the field's type, or raise ConfigError."""
    element = _tuple_element(annotation)
    if element is not None:
        parts = [part.strip() for part in text.split(",")] if text.strip() else []
        values = []
        for position, part in enumerate(parts):
            try:
                values.append(_scalar_from_text(element, part))
            except ValueError:
                raise ConfigError(
                    f"{name}={text!r}: item {position + 1} ({part!r}) is not "
                    f"{_TYPE_WORDS[element]}; expected a comma-separated list of "
                    f"{_type_name(element)}, e.g. {name}={_list_example(element)}"
                ) from None
        return tuple(values)
    try:
        return _scalar_from_text(annotation, text.strip())
    except ValueError:
        raise ConfigError(
            f"{name}={text!r} is not {_TYPE_WORDS[annotation]}; expected {_type_name(annotation)}"
            f", e.g. {name}={_example(annotation)}"
        ) from None


def coerce_toml(name: str, annotation: Any, value: object) -> object:
    """Check a value read from TOML against the field's type (ints are accepted as floats)."""
    element = _tuple_element(annotation)
    if element is not None:
        if not isinstance(value, list):
            raise ConfigError(
                f"{name}={value!r} in the config file is not a list; expected an array of "
                f"{_type_name(element)}, e.g. {name} = {_toml_list_example(element)}"
            )
        return tuple(coerce_toml(f"{name}[{i}]", element, item) for i, item in enumerate(value))
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if annotation is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} is not finite; expected a finite real number")
    if type(value) is not annotation:
        raise ConfigError(
            f"{name}={value!r} in the config file is {type(value).__name__}; expected "
            f"{_type_name(annotation)}, e.g. {name} = {_toml_example(annotation)}"
        )
    return value


def read_toml(path: Path) -> dict[str, object]:
    """The top-level table of a TOML file, or ConfigError if it cannot be read or parsed."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(
            f"cannot read config file {str(path)!r}: {error.strerror or error}"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {error}") from None


def parse_assignment(assignment: str) -> tuple[str, str]:
    """Split ``key=value`` at the first ``=``; ConfigError when there is none or no key."""
    key, equals, value = assignment.partition("=")
    if not equals or not key.strip():
        raise ConfigError(f"--set {assignment!r} is not of the form KEY=VALUE (e.g. --set n=64)")
    return key.strip(), value


def set_values(assignments: Sequence[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` assignments as {key: value text}; ConfigError for a malformed one or a
    key given twice (no silent last-one-wins)."""
    values: dict[str, str] = {}
    for assignment in assignments:
        key, text = parse_assignment(assignment)
        if key in values:
            raise ConfigError(
                f"--set {key}=... is given twice ({key}={values[key]!r} and {key}={text!r}); "
                "give each key once"
            )
        values[key] = text
    return values


def resolve_config(
    config_class: type,
    *,
    toml_path: Path | None = None,
    assignments: Sequence[str] = (),
    overrides: Mapping[str, object] | None = None,
    scenario: str = "",
) -> Any:
    """Build and validate a config: defaults < TOML file < ``--set`` < ``overrides``.

    ``overrides`` holds already-typed values (e.g. ``{"seed": 3}`` from ``--seed``); ``None``
    entries are ignored. Raises ConfigError (one line) for any unknown key, a key set twice in
    ``assignments``, wrong type, file problem, or value refused by the config's checks.
    """
    infos = {info.name: info for info in config_fields(config_class)}
    values: dict[str, object] = {}
    if toml_path is not None:
        for key, value in read_toml(toml_path).items():
            info = _lookup(infos, key, scenario, where=f"config file {str(toml_path)!r}")
            values[key] = coerce_toml(key, info.type, value)
    for key, text in set_values(assignments).items():
        info = _lookup(infos, key, scenario, where="--set")
        values[key] = parse_text(key, info.type, text)
    for key, value in (overrides or {}).items():
        if value is not None:
            _lookup(infos, key, scenario, where="overrides")
            values[key] = value
    try:
        return config_class(**values)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def config_to_dict(config: object) -> dict[str, object]:
    """The config's fields as a JSON-ready dict (tuples become lists)."""
    return {
        item.name: list(value) if isinstance(value := getattr(config, item.name), tuple) else value
        for item in dataclasses.fields(config)
    }


def _lookup(infos: dict[str, FieldInfo], key: str, scenario: str, *, where: str) -> FieldInfo:
    if key in infos:
        return infos[key]
    owner = f" of scenario {scenario!r}" if scenario else ""
    raise ConfigError(
        f"unknown config key {key!r} in {where}{owner}{did_you_mean(key, list(infos))}; "
        f"valid keys: {', '.join(infos)}"
    )


def _check_type(info: FieldInfo, value: object) -> None:
    """Refuse a value whose type is not the field's (a library caller's mistake; the command
    line and TOML readers convert before this)."""
    element = _tuple_element(info.type)
    if element is not None:
        fits = isinstance(value, tuple) and all(_is_scalar(element, item) for item in value)
    else:
        fits = _is_scalar(info.type, value)
    if not fits:
        raise ValueError(
            f"{info.name}={show(value)} is not accepted; expected {_type_name(info.type)}"
        )


def _is_scalar(annotation: Any, value: object) -> bool:
    if annotation is int:
        return is_int(value)
    if annotation is float:
        return is_real(value)
    return type(value) is annotation


def _check_supported(name: str, annotation: Any) -> None:
    element = _tuple_element(annotation)
    if (element if element is not None else annotation) not in _TYPE_WORDS:
        raise TypeError(f"config field {name!r} has unsupported type {annotation!r}")


def _tuple_element(annotation: Any) -> Any:
    """X for ``tuple[X, ...]``, else None."""
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
    return None


def _type_name(annotation: Any) -> str:
    element = _tuple_element(annotation)
    if element is not None:
        return f"tuple[{element.__name__}, ...]"
    return annotation.__name__


def _scalar_from_text(annotation: Any, text: str) -> object:
    if annotation is bool:
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(text)
    if annotation is int:
        return int(text)
    if annotation is float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    return text


def _example(annotation: Any) -> str:
    return {int: "32", float: "1.5", bool: "true", str: "softmax"}[annotation]


def _toml_example(annotation: Any) -> str:
    return {int: "32", float: "1.5", bool: "true", str: '"softmax"'}[annotation]


def _list_example(element: Any) -> str:
    return {int: "1,2,3", float: "1,4,9", bool: "true,false", str: "softmax,uniform"}[element]


def _toml_list_example(element: Any) -> str:
    return {
        int: "[1, 2, 3]",
        float: "[1.0, 4.0, 9.0]",
        bool: "[true, false]",
        str: '["softmax", "uniform"]',
    }[element]
