"""Where the states at output times go: the whole trajectory, or streamed observables.

A recorder receives, for m (output time, system) pairs, the interpolated states (m, n, d) and
copies them (or what ``observe`` makes of them) into preallocated (len(t) S, ...) buffers at the
rows time_index S + system (one ``index_copy_``, much faster than two-index assignment).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

Observe = Callable[[Tensor], dict[str, Tensor]]


class Trajectory:
    """Keeps every state: a (len(t) S, n, d) buffer, returned as (len(t), *batch, n, d)."""

    def __init__(self, x0: Tensor, times: int) -> None:
        self.systems, self.times = len(x0), times
        self.states = x0.new_empty((times * self.systems, *x0.shape[1:]))

    def record(self, time_index: Tensor, system: Tensor, x: Tensor) -> None:
        self.states.index_copy_(0, time_index * self.systems + system, x)

    def result(self, batch: tuple[int, ...]) -> Tensor:
        return self.states.reshape(self.times, *batch, *self.states.shape[1:])


class Observed:
    """Keeps only ``observe(x)``: one (len(t) S, ...) buffer per observable, allocated at the
    first record, returned as (len(t), *batch, ...)."""

    def __init__(self, observe: Observe, systems: int, times: int) -> None:
        self.observe, self.systems, self.times = observe, systems, times
        self.values: dict[str, Tensor] = {}

    def record(self, time_index: Tensor, system: Tensor, x: Tensor) -> None:
        observed = self.observe(x)
        if not isinstance(observed, dict) or not all(
            isinstance(v, Tensor) and v.ndim >= 1 and v.shape[0] == len(x)
            for v in observed.values()
        ):
            raise TypeError(
                f"observe must return a dict of tensors with first dimension {len(x)} (one row "
                f"per state), got {type(observed).__name__}"
            )
        if not self.values:
            self.values = {
                name: value.new_empty((self.times * self.systems, *value.shape[1:]))
                for name, value in observed.items()
            }
        if observed.keys() != self.values.keys():
            raise TypeError(
                f"observe returned keys {sorted(observed)}, earlier {sorted(self.values)}"
            )
        rows = time_index * self.systems + system
        for name, value in observed.items():
            self.values[name].index_copy_(0, rows, value)

    def result(self, batch: tuple[int, ...]) -> dict[str, Tensor]:
        return {
            name: value.reshape(self.times, *batch, *value.shape[1:])
            for name, value in self.values.items()
        }
