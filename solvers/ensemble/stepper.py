"""``solve_ensemble``: an explicit Runge-Kutta 5(4) pair with one step size per system.

The leading dimensions of the cloud x0 (*batch, n, d) are S independent systems. Each system has
its own time and step size and is accepted or rejected on its own error, so a hard system never
shortens an easy one's steps; a stage combination is one matrix product over all running systems
(the stages are laid out (7, systems x n d)), and systems leave the batch when they pass the last
output time. Output times never shorten a step: every accepted step evaluates its dense output at
the output times it passes, up to ``DENSE_RANKS`` of them per system in one batched product.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import torch
from torch import Tensor

from solvers.ensemble.control import error_ratio, initial_step, step_factor
from solvers.ensemble.output import Observe, Observed, Trajectory
from solvers.ensemble.tableau import TABLEAUS, Tableau
from solvers.threads import thread_count, torch_threads

Recorder = Trajectory | Observed

DENSE_RANKS = 16
"""Output times per system interpolated in one product: the dense output's working memory stays
at about 2 DENSE_RANKS states per running system however many output times a step passes (a
step of the clustering sweep passes up to about 20; blocks of 4 made its d = 8 points 1.1-1.2x
slower than unbounded blocks)."""


@dataclass(frozen=True)
class EnsembleStats:
    """Per-system counts, each of shape ``batch``: ``accepted`` and ``rejected`` steps and
    ``evaluations`` of the field on that system (one for f(t0), one for the initial step unless
    ``first_step`` is given, six per attempted step: FSAL); ``calls``: number of field calls, each
    on all systems still running."""

    accepted: Tensor
    rejected: Tensor
    evaluations: Tensor
    calls: int


def solve_ensemble(
    field: Callable[..., Tensor],
    x0: Tensor,
    t: Tensor | Sequence[float],
    *,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    method: str = "dopri5",
    observe: Observe | None = None,
    params: Tensor | None = None,
    max_steps: int = 100_000,
    first_step: float | None = None,
    return_stats: bool = False,
) -> Tensor | dict[str, Tensor] | tuple[Tensor | dict[str, Tensor], EnsembleStats]:
    """Solve x' = field(t, x), x(t[0]) = x0, for every system of x0 with its own adaptive steps.

    Args:
        field: ``field(t, x)`` (``field(t, x, p)`` with ``params``) on x (A, n, d), the A systems
            still running, with their own times t (A, 1, 1) in x's dtype. The field must be
            autonomous (ignore t) or use these per-system times: systems are at different times.
        x0: the initial clouds, a floating tensor (*batch, n, d).
        t: strictly increasing output times (at least two).
        rtol, atol: a step of a system is accepted when the RMS over its n d entries of
            error / (atol + rtol max(|y0|, |y1|)) is at most 1 (torchdiffeq's test, per system).
        method: "dopri5" (Dormand-Prince) or "tsit5" (Tsitouras), see ``solvers.ensemble.tableau``.
        observe: when given, ``observe(x)`` maps m states (m, n, d), each a system at an output
            time (gathered over several steps, ``solvers.ensemble.output``), to a dict of tensors
            (m, ...) whose row r depends on x[r] only, and only these are kept: memory
            O(S n d + len(t) S stats) instead of O(len(t) S n d).
        params: per-system parameters (*batch, ...), passed to the field as its third argument,
            sliced to the systems still running.
        max_steps: most attempted steps per system; RuntimeError beyond.
        first_step: the first step of every system; None chooses one per system (Hairer,
            Norsett, Wanner, II.4, as torchdiffeq).
        return_stats: also return the ``EnsembleStats``.

    The solve runs without autograd (the stage buffer is written in place): no gradients. It
    runs on one torch thread when an evaluation's pairwise interactions (S n^2 d) are few
    (``solvers.threads``), on torch's default otherwise, and restores the setting after.

    Returns:
        The trajectory (len(t), *batch, n, d) in x0's dtype and device (``integrate``'s layout),
        or with ``observe`` ``{name: (len(t), *batch, ...)}``; with ``return_stats`` the pair
        (that, stats).
    """
    tableau = _check_method(method)
    _check_arguments(field, x0, observe, params, max_steps, return_stats)
    times = _check_times(t, x0.device)
    rtol, atol = _positive("rtol", rtol), _positive("atol", atol)
    first = None if first_step is None else _positive("first_step", first_step)
    batch = tuple(x0.shape[:-2])
    systems = math.prod(batch)
    clouds = x0.reshape(systems, *x0.shape[-2:])
    flat_params = None if params is None else params.reshape(systems, *params.shape[len(batch) :])
    if observe is None:
        recorder: Recorder = Trajectory(clouds, len(times))
    else:
        recorder = Observed(observe, clouds, len(times))
    every = torch.arange(systems, device=x0.device)
    # The library's thread policy, by the size of one evaluation's pairwise interactions.
    work = systems * clouds.shape[-2] ** 2 * clouds.shape[-1]
    with torch.no_grad(), torch_threads(thread_count(0, work)):
        recorder.record(torch.zeros_like(every), every, clouds)
        run = _Run(field, tableau, clouds, times, flat_params, rtol, atol, first)
        while run.ids.numel():
            run.step(recorder, max_steps)
    stats = EnsembleStats(
        accepted=run.accepted.reshape(batch),
        rejected=run.rejected.reshape(batch),
        evaluations=(
            (1 if first is not None else 2) + (tableau.stages - 1) * (run.accepted + run.rejected)
        ).reshape(batch),
        calls=run.calls,
    )
    result = recorder.result(batch)
    return (result, stats) if return_stats else result


class _Run:
    """The running systems, compacted: ``ids`` (A,) among the S systems, times ``t`` and steps
    ``h`` (A,) in float64, states ``y`` (A, n d), stages ``k`` (7, A, n d) with k[0] = f(t, y)
    (FSAL), ``next`` the index of each system's next output time; counts per system (S,).

    A stage's state y + h sum_j a_ij k_j is one matrix product of the tableau row with the
    stages laid out (7, A n d), then one ``addcmul`` for the per-system h; the error and the dense
    output's polynomial coefficients are matrix products of the same kind."""

    def __init__(
        self,
        field: Callable[..., Tensor],
        tableau: Tableau,
        clouds: Tensor,
        times: Tensor,
        params: Tensor | None,
        rtol: float,
        atol: float,
        first_step: float | None,
    ) -> None:
        systems, self.n, self.d = clouds.shape
        self.field, self.tableau, self.times = field, tableau, times
        self.params, self.rtol, self.atol = params, rtol, atol
        like = {"dtype": clouds.dtype, "device": clouds.device}
        self.a = [torch.tensor(row, **like).view(1, -1) for row in tableau.a]
        self.c = tableau.c
        self.e = torch.tensor(tableau.e, **like).view(1, -1)
        self.dense = torch.tensor(tableau.dense, **like)
        self.calls = 0
        self.ids = torch.arange(systems, device=clouds.device)
        self.next = torch.ones(systems, dtype=torch.long, device=clouds.device)
        self.accepted = torch.zeros(systems, dtype=torch.long, device=clouds.device)
        self.rejected = torch.zeros_like(self.accepted)
        self.t = times[0].expand(systems).clone()
        self.y = clouds.reshape(systems, -1)
        self.k = self.y.new_empty(tableau.stages, systems, self.y.shape[1])
        self.k[0] = self.evaluate(self.t, self.y)
        if first_step is None:
            self.h = initial_step(
                self.evaluate, self.t, self.y, self.k[0], tableau.order - 1, rtol, atol
            )
        else:
            self.h = torch.full_like(self.t, first_step)

    def evaluate(self, t: Tensor, y: Tensor) -> Tensor:
        """The field on the running systems at their times t (A,) and states y (A, n d)."""
        x = y.view(-1, self.n, self.d)
        times = t.to(x.dtype).view(-1, 1, 1)
        out = self.field(times, x) if self.params is None else self.field(times, x, self.params)
        self.calls += 1
        if not isinstance(out, Tensor) or out.shape != x.shape:
            found = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"field returned {found} for x of shape {tuple(x.shape)}")
        return out.reshape(y.shape)

    def combine(self, weights: Tensor, count: int) -> Tensor:
        """sum_j weights[:, j] k_j over the first ``count`` stages, shape (rows, A, n d)."""
        stages = self.k[:count].view(count, -1)
        return (weights @ stages).view(len(weights), *self.y.shape)

    def step(self, recorder: Recorder, max_steps: int) -> None:
        """One attempted step of every running system; record the output times it passes."""
        if bool((self.accepted[self.ids] + self.rejected[self.ids] >= max_steps).any()):
            raise RuntimeError(f"max_steps={max_steps} reached before the last output time")
        k, h = self.k, self.h.to(self.y.dtype)[:, None]
        for i in range(1, self.tableau.stages):
            stage = torch.addcmul(self.y, h, self.combine(self.a[i], i)[0])
            k[i] = self.evaluate(self.t + self.c[i] * self.h, stage)
        error = h * self.combine(self.e, self.tableau.stages)[0]
        ratio = error_ratio(error, self.y, stage, self.rtol, self.atol)
        ratio = torch.where(torch.isfinite(ratio), ratio, torch.inf)
        accept = ratio <= 1
        t_new = self.t + self.h
        passed = torch.searchsorted(self.times, t_new, right=True) - self.next
        passed = torch.where(accept, passed, 0)
        self._record(recorder, passed)
        if bool(accept.all()):
            self.y = stage
            k[0] = k[-1]
        else:
            self.y = torch.where(accept[:, None], stage, self.y)
            k[0] = torch.where(accept[:, None], k[-1], k[0])
        self.t = torch.where(accept, t_new, self.t)
        self.next = self.next + passed
        self.h = self.h * step_factor(ratio, self.tableau.order).to(self.h.dtype)
        self.accepted.index_add_(0, self.ids, accept.long())
        self.rejected.index_add_(0, self.ids, (~accept).long())
        if bool((self.t + self.h == self.t).any()):
            raise RuntimeError("step size underflow: a system's step fell below its time's ulp")
        running = self.next < len(self.times)
        if not bool(running.all()):
            self._keep(running)

    def _record(self, recorder: Recorder, passed: Tensor) -> None:
        """Dense output at the output times each system passed in its accepted step: with
        r_p = sum_i dense[p, i] k_i (one matrix product), the j-th time passed by each system
        is y + sum_p h theta^(p+1) r_p. The ranks j below the most any system passed go in
        blocks of ``DENSE_RANKS``, each one ``baddbmm`` over the running systems, whose passed
        (system, j) pairs are recorded together."""
        count = int(passed.max())
        if count == 0:
            return
        polynomial = self.combine(self.dense, self.tableau.stages).transpose(0, 1)
        for start in range(0, count, DENSE_RANKS):
            ranks = torch.arange(start, min(start + DENSE_RANKS, count), device=passed.device)
            index = (self.next[:, None] + ranks).clamp(max=len(self.times) - 1)
            theta = (self.times[index] - self.t[:, None]) / self.h[:, None]
            powers = torch.stack([theta, theta**2, theta**3, theta**4], -1).to(self.y.dtype)
            weights = self.h.to(self.y.dtype)[:, None, None] * powers
            x = torch.baddbmm(self.y.unsqueeze(1), weights, polynomial).view(-1, self.n, self.d)
            if bool((passed > ranks[-1]).all()):
                recorder.record(index.flatten(), self.ids.repeat_interleave(len(ranks)), x)
                continue
            pairs = (passed[:, None] > ranks).flatten().nonzero().squeeze(1)
            recorder.record(
                index.flatten().index_select(0, pairs),
                self.ids.index_select(0, pairs // len(ranks)),
                x.index_select(0, pairs),
            )

    def _keep(self, rows: Tensor) -> None:
        """Drop the systems that passed the last output time."""
        self.ids, self.t, self.h = self.ids[rows], self.t[rows], self.h[rows]
        self.y, self.k, self.next = self.y[rows], self.k[:, rows], self.next[rows]
        if self.params is not None:
            self.params = self.params[rows]


def _check_method(method: object) -> Tableau:
    if not isinstance(method, str) or method not in TABLEAUS:
        raise ValueError(f"method={method!r} is unknown; valid methods: {', '.join(TABLEAUS)}")
    return TABLEAUS[method]


def _check_arguments(
    field: object,
    x0: object,
    observe: object,
    params: object,
    max_steps: object,
    return_stats: object,
) -> None:
    if not callable(field):
        raise TypeError(f"field must be callable, got {type(field).__name__}")
    if not isinstance(x0, Tensor) or not x0.is_floating_point():
        found = x0.dtype if isinstance(x0, Tensor) else type(x0).__name__
        raise TypeError(f"x0 must be a floating torch.Tensor, got {found}")
    if x0.ndim < 2 or x0.numel() == 0:
        raise ValueError(f"x0 must be a non-empty (*batch, n, d) cloud, got {tuple(x0.shape)}")
    if not bool(torch.isfinite(x0).all()):
        raise ValueError("x0 contains NaN or infinite values")
    if x0.requires_grad or (isinstance(params, Tensor) and params.requires_grad):
        raise ValueError(
            "x0 and params must not require grad: solve_ensemble does not backpropagate "
            "(use solvers.integrate, e.g. with adjoint=True)"
        )
    if observe is not None and not callable(observe):
        raise TypeError(f"observe must be callable or None, got {type(observe).__name__}")
    batch = tuple(x0.shape[:-2])
    if params is not None and (
        not isinstance(params, Tensor) or tuple(params.shape[: len(batch)]) != batch
    ):
        found = tuple(params.shape) if isinstance(params, Tensor) else type(params).__name__
        raise ValueError(f"params must be a tensor of shape ({batch}, ...), got {found}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, Integral) or max_steps < 1:
        raise ValueError(f"max_steps={max_steps!r} must be a positive integer")
    if not isinstance(return_stats, bool):
        raise TypeError(f"return_stats={return_stats!r} must be a bool")


def _check_times(t: object, device: torch.device) -> Tensor:
    """The output times as float64 (each system's clock runs in float64)."""
    try:
        times = torch.as_tensor(t, dtype=torch.float64, device=device)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"t must be a 1-D sequence or tensor of times, got {t!r}") from error
    if times.ndim != 1 or len(times) < 2:
        raise ValueError(f"t must be 1-D with at least 2 times, got shape {tuple(times.shape)}")
    if not bool(torch.isfinite(times).all()) or not bool((times[1:] > times[:-1]).all()):
        raise ValueError("t must be finite and strictly increasing")
    return times


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}={value!r} must be a real number")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r} must be positive and finite")
    return float(value)
