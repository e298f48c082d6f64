"""Checks that config fields declare: each says what it accepts, and the same words appear in
``attnflow run NAME --help`` and in the one-line error for a value it refuses.

A check is a ``Check(accepts, accepted)``: ``accepts(value) -> bool`` and the phrase
``accepted`` ("an integer >= 1"). ``refuse(name, value, accepted)`` raises the error every config
problem is reported as: ``name=value is not accepted; expected accepted``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """An int or a finite float."""
    return is_int(value) or (isinstance(value, float) and math.isfinite(value))


def show(value: object) -> str:
    """A value as the user would write it after ``--set KEY=``."""
    if isinstance(value, tuple):
        return ",".join(show(item) for item in value) if value else "(empty)"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)


def suggest(name: str, choices: Sequence[str]) -> str | None:
    """The closest of ``choices`` to a misspelled ``name`` (difflib, then case), or None."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {choice.lower(): choice for choice in choices}
    return lowered.get(name.lower())


def did_you_mean(name: str, choices: Sequence[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices``, or ``""``."""
    close = suggest(name, choices)
    return f" (did you mean {close!r}?)" if close else ""


def refuse(name: str, value: object, accepted: str) -> None:
    """Raise ValueError ``name=value is not accepted; expected accepted``."""
    raise ValueError(f"{name}={show(value)} is not accepted; expected {accepted}")


def require(condition: bool, name: str, value: object, accepted: str) -> None:
    """``refuse(name, value, accepted)`` unless ``condition``."""
    if not condition:
        refuse(name, value, accepted)


@dataclass(frozen=True)
class Check:
    """What a config field accepts: a predicate and the phrase that describes it."""

    accepts: Callable[[object], bool]
    accepted: str
    choices: tuple[str, ...] = ()

    def __call__(self, name: str, value: object) -> None:
        """Refuse ``value`` for the field ``name`` unless it is accepted; a misspelled choice
        (alone or in a tuple) is answered with the closest one."""
        if not self.accepts(value):
            unknown = [
                item
                for item in (value if isinstance(value, tuple) else (value,))
                if isinstance(item, str) and item not in self.choices
            ]
            hint = did_you_mean(unknown[0], self.choices) if unknown and self.choices else ""
            raise ValueError(
                f"{name}={show(value)} is not accepted{hint}; expected {self.accepted}"
            )


def at_least(low: int) -> Check:
    """An integer >= ``low``."""
    return Check(lambda value: is_int(value) and value >= low, f"an integer >= {low}")


def int_in(low: int, high: int) -> Check:
    """An integer in [low, high]."""
    return Check(
        lambda value: is_int(value) and low <= value <= high, f"an integer in [{low}, {high}]"
    )


def positive() -> Check:
    """A finite number > 0."""
    return Check(lambda value: is_real(value) and value > 0, "a finite number > 0")


def non_negative() -> Check:
    """A finite number >= 0."""
    return Check(lambda value: is_real(value) and value >= 0, "a finite number >= 0")


def real_in(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Check:
    """A finite number in [low, high], with either end open."""

    def accepts(value: object) -> bool:
        if not is_real(value):
            return False
        above = value > low if open_low else value >= low
        below = value < high if open_high else value <= high
        return above and below

    interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    return Check(accepts, f"a number in {interval}")


def one_of(choices: Iterable[str]) -> Check:
    """One of ``choices``; a refused value is answered with the closest choice, if any."""
    options = tuple(choices)
    return Check(
        lambda value: isinstance(value, str) and value in options,
        f"one of {', '.join(options)}",
        options,
    )


def items(
    each: Check, *, min_count: int = 1, max_count: int | None = None, distinct: bool = True
) -> Check:
    """A tuple of values (``distinct`` ones by default), each accepted by ``each``, between
    ``min_count`` and ``max_count`` of them."""
    count = (
        f"{min_count} to {max_count}"
        if max_count is not None
        else (f"{min_count} or more" if min_count else "any number of")
    )

    def accepts(value: object) -> bool:
        return (
            isinstance(value, tuple)
            and min_count <= len(value) <= (max_count if max_count is not None else len(value))
            and (not distinct or len(set(value)) == len(value))
            and all(each.accepts(item) for item in value)
        )

    return Check(
        accepts,
        f"{count} {'distinct ' if distinct else ''}values, each {each.accepted}",
        each.choices,
    )


def boolean() -> Check:
    """true or false."""
    return Check(lambda value: isinstance(value, bool), "true or false")


def seed() -> Check:
    """A seed ``torch.Generator.manual_seed`` takes: an integer in [0, 2^63)."""
    return Check(lambda value: is_int(value) and 0 <= value < 2**63, "an integer in [0, 2^63)")
