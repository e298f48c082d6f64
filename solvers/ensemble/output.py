"""Where the states at output times go: the whole trajectory, or streamed observables.

A recorder receives, for m (output time, system) pairs, the interpolated states (m, n, d) and
copies them (or what ``observe`` makes of them) into preallocated (len(t) S, ...) buffers at the
rows time_index S + system (one ``index_copy_``, much faster than two-index assignment).
``Observed`` observes states in batches of ``observe_elements`` numbers: it gathers small records
(a solve may pass an output time a few systems at a time, and one ``observe`` call per handful of
states would cost more than the observables themselves) and splits large ones.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Observe = Callable[[Tensor], dict[str, Tensor]]

OBSERVE_ELEMENTS = 1 << 16
"""Numbers per ``observe`` call on the CPU (512 KiB in float64): small records are gathered until
they hold at least this many, large ones are split into parts of at most this many. Observing the
clustering sweep's statistics (n = 32, d = 8) cost 26 us per cloud in batches of 64 clouds, 43-72
us in batches of 1024-4096 (their n x n temporaries leave the cache) and 59 us in batches of 16;
a whole solve took the same time within 5% from 2^15 to 2^18 numbers (d = 8 and 32)."""

DEVICE_OBSERVE_ELEMENTS = 1 << 22
"""Numbers per ``observe`` call for states on a GPU (32 MiB in float64), where a call's cost is
its kernel launches whatever the batch, not cache traffic (4096 clouds of 32 x 32 per call; the
n x n temporaries of 65536 clouds of 32 x 2 take 512 MiB each)."""


def observe_elements(device: torch.device) -> int:
    """The batch of an ``observe`` call, in numbers, for states on ``device``."""
    return OBSERVE_ELEMENTS if device.type == "cpu" else DEVICE_OBSERVE_ELEMENTS


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
    first observation, returned as (len(t), *batch, ...). States wait in ``pending`` until they
    hold ``observe_elements(device)`` numbers (the states' device), then are observed together."""

    def __init__(self, observe: Observe, systems: int, times: int, device: torch.device) -> None:
        self.observe, self.systems, self.times = observe, systems, times
        self.values: dict[str, Tensor] = {}
        self.pending: list[tuple[Tensor, Tensor]] = []
        self.pending_elements = 0
        self.batch_elements = observe_elements(device)

    def record(self, time_index: Tensor, system: Tensor, x: Tensor) -> None:
        if not self.pending and x.numel() >= self.batch_elements:
            self._observe_in_parts(time_index * self.systems + system, x)
            return
        self.pending.append((time_index * self.systems + system, x))
        self.pending_elements += x.numel()
        if self.pending_elements >= self.batch_elements:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        rows = torch.cat([rows for rows, _ in self.pending])
        x = torch.cat([x for _, x in self.pending])
        self.pending, self.pending_elements = [], 0
        self._observe_in_parts(rows, x)

    def _observe_in_parts(self, rows: Tensor, x: Tensor) -> None:
        size = max(1, self.batch_elements // x[0].numel())
        for part_rows, part in zip(rows.split(size), x.split(size), strict=True):
            self._observe(part_rows, part)

    def _observe(self, rows: Tensor, x: Tensor) -> None:
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
        for name, value in observed.items():
            self.values[name].index_copy_(0, rows, value)

    def result(self, batch: tuple[int, ...]) -> dict[str, Tensor]:
        self._flush()
        return {
            name: value.reshape(self.times, *batch, *value.shape[1:])
            for name, value in self.values.items()
        }
