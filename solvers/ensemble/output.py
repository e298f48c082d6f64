"""Where the states at output times go: the whole trajectory, or streamed observables.

A recorder receives, for m (output time, system) pairs, the interpolated states (m, n, d) and
copies them (or what ``observe`` makes of them) into preallocated (len(t) S, ...) buffers at the
rows time_index S + system (one ``index_copy_``, much faster than two-index assignment).
``Observed`` observes states in batches of ``observe_batch`` clouds: it gathers small records
(a solve may pass an output time a few systems at a time, and one ``observe`` call per handful of
states would cost more than the observables themselves) and splits large ones.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Observe = Callable[[Tensor], dict[str, Tensor]]

OBSERVE_ELEMENTS = 1 << 18
"""Numbers per ``observe`` call on the CPU, a cloud (n, d) counted as n max(n, d), since
observables of a cloud form its n x n pairwise matrices (cosines, links): 256 clouds of 32
tokens (2 MiB per float64 n x n temporary). Measured on the clustering sweep's statistics (n =
32, 1024 seeds, one thread, interleaved): against 64 clouds per call, 0.95-0.98 of a point's CPU
time at d = 32, 128 and 1024 (solved in 32 span coordinates); at d = 2 within 2% of 1024 and 512
clouds; observing a cloud alone cost 29 us in batches of 16, 10-19 us in batches of 64-1024."""

DEVICE_OBSERVE_ELEMENTS = 1 << 22
"""Numbers per ``observe`` call for states on a GPU, counted as ``OBSERVE_ELEMENTS`` counts them
(32 MiB per float64 n x n temporary), where a call's cost is its kernel launches whatever the
batch, not cache traffic: 4096 clouds of 32 tokens per call, at any d (at d = 2 that is 4096,
not the 65536 of a count by states; not yet measured on a GPU)."""


def observe_batch(n: int, d: int, device: torch.device) -> int:
    """Clouds of n tokens in R^d per ``observe`` call on ``device``: ``OBSERVE_ELEMENTS`` (CPU)
    or ``DEVICE_OBSERVE_ELEMENTS`` numbers, a cloud counted as n max(n, d)."""
    budget = OBSERVE_ELEMENTS if device.type == "cpu" else DEVICE_OBSERVE_ELEMENTS
    return max(1, budget // (n * max(n, d)))


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
    hold ``observe_batch`` clouds (for the clouds' shape and device), then are observed
    together."""

    def __init__(self, observe: Observe, clouds: Tensor, times: int) -> None:
        self.observe, self.systems, self.times = observe, len(clouds), times
        self.values: dict[str, Tensor] = {}
        self.pending: list[tuple[Tensor, Tensor]] = []
        self.pending_clouds = 0
        self.batch = observe_batch(*clouds.shape[-2:], clouds.device)

    def record(self, time_index: Tensor, system: Tensor, x: Tensor) -> None:
        if not self.pending and len(x) >= self.batch:
            self._observe_in_parts(time_index * self.systems + system, x)
            return
        self.pending.append((time_index * self.systems + system, x))
        self.pending_clouds += len(x)
        if self.pending_clouds >= self.batch:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        rows = torch.cat([rows for rows, _ in self.pending])
        x = torch.cat([x for _, x in self.pending])
        self.pending, self.pending_clouds = [], 0
        self._observe_in_parts(rows, x)

    def _observe_in_parts(self, rows: Tensor, x: Tensor) -> None:
        for part_rows, part in zip(rows.split(self.batch), x.split(self.batch), strict=True):
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
