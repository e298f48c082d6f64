"""The in-context map of a context measure under an attention flow, and its push-forward.

Following "Transformers through the lens of support-preserving maps between measures": a
transformer acts on the context measure mu = sum_j m_j delta_{x_j} (n tokens with masses m_j,
sum_j m_j = 1) by the in-context map T_mu, and on the measure by the push-forward

    (T_mu)_# mu = sum_j m_j delta_{T_mu(x_j)}.

For the flow of an attention field X_mu(x) (``dynamics.SelfAttention`` with masses) on [0, T]:

    x_j' = X_{mu_t}(x_j), mu_t = sum_j m_j delta_{x_j(t)}   (the context moves by its own field),
    z'   = X_{mu_t}(z),   T_mu(z) = z(T)                    (a query moves in the context's field),

so a query never acts on mu, and a context token is its own query: T_mu(x_j) = x_j(T).

How it is solved: each query rides with the context as a token of mass 0 (a zero mass removes a
key while the token still moves as a query, ``dynamics.attention.weighted``). The queries are cut
into groups of ``queries_per_system`` (default n); each group is one independent system (the
context and the group, n + c tokens, masses (m, 0)), and all groups are one batched solve. Work
and memory grow linearly in the number of queries, O(q (n + c) d) per field evaluation with
c = n, and no n x n matrix is formed where the attention kernel streams. With a fixed-step
method every system steps the context identically, so T_mu(z) does not depend on the other
queries to rounding; an adaptive method picks each system's steps by its own error (within rtol).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dynamics.attention.weighted import WithMasses, check_masses
from dynamics.checks import check_cloud, check_int, check_real
from solvers.contracts import MethodLike
from solvers.integration import integrate


class InContextMap:
    """T_mu of the context measure mu = sum_j m_j delta_{x_j} under the flow of ``field`` on [0, T].

    Args:
        field: an attention field ``f(t, x, masses=m)`` (``dynamics.SelfAttention``,
            ``dynamics.LinearAttention``, a ``dynamics.TimeDependent`` around one): the velocity
            X_mu(x_i) of every token of the weighted cloud (x, m).
        context: the context tokens x_j, shape (..., n, d); leading dims are independent contexts.
        masses: m, shape (n,) or (..., n), >= 0 summing to 1 (``dynamics.check_masses``); uniform
            1/n when omitted.
        T: the final time (depth) of the flow, > 0.
        queries_per_system: queries solved with one copy of the context (default n).
        method, step_size, rtol, atol: the solver, as for ``solvers.integrate``.

    The map is a plain function of its inputs: autograd runs through it to the field's weights
    and to the context.
    """

    def __init__(
        self,
        field: nn.Module,
        context: Tensor,
        masses: Tensor | None = None,
        *,
        T: float = 1.0,
        queries_per_system: int | None = None,
        method: MethodLike = "dopri5",
        step_size: float | None = None,
        rtol: float = 1e-7,
        atol: float = 1e-9,
    ) -> None:
        if not takes_masses(field):
            raise TypeError(
                "field must be an attention field f(t, x, masses=m) taking the context's masses "
                f"(SelfAttention, LinearAttention, TimeDependent), got {type(field).__name__}"
            )
        self.field = field
        self.context = check_cloud("context", context)
        n = context.shape[-2]
        if masses is None:
            masses = context.new_full((n,), 1.0 / n)
        self.masses = check_masses(masses, context)
        self.T = check_real("T", T, minimum=0.0, strict=True)
        self.queries_per_system = n
        if queries_per_system is not None:
            self.queries_per_system = check_int("queries_per_system", queries_per_system, minimum=1)
        self.solver_options = {
            "method": method,
            "step_size": step_size,
            "rtol": rtol,
            "atol": atol,
        }

    def _times(self, times: Tensor | Sequence[float] | None) -> Tensor:
        if times is None:
            times = [0.0, self.T]
        return torch.as_tensor(times, dtype=self.context.dtype, device=self.context.device)

    def push_forward(self, times: Tensor | Sequence[float] | None = None) -> tuple[Tensor, Tensor]:
        """(T_mu)_# mu as (points, masses): the context's flow x_j(T), shape (..., n, d), and its
        masses m, carried unchanged. With ``times`` (starting at 0), the points at every time,
        shape (len(times), ..., n, d)."""
        path = integrate(
            WithMasses(self.field, self.masses),
            self.context,
            self._times(times),
            **self.solver_options,
        )
        return (path if times is not None else path[-1]), self.masses

    def paths(self, queries: Tensor, times: Tensor | Sequence[float]) -> Tensor:
        """z(t) for every query z_0 at the ``times`` (starting at 0), shape (len(times), ..., q, d);
        ``queries`` (..., q, d) with leading dims broadcasting against the context's."""
        queries = check_cloud("queries", queries, d=self.context.shape[-1])
        n, q, d = self.context.shape[-2], queries.shape[-2], queries.shape[-1]
        batch = torch.broadcast_shapes(
            self.context.shape[:-2], queries.shape[:-2], self.masses.shape[:-1]
        )
        group = min(self.queries_per_system, q)
        systems = math.ceil(q / group)
        padding = queries[..., :1, :].expand(*queries.shape[:-2], systems * group - q, d)
        grouped = torch.cat([queries, padding], -2).expand(*batch, systems * group, d)
        grouped = grouped.reshape(*batch, systems, group, d)
        context = self.context.expand(*batch, n, d)[..., None, :, :]
        cloud = torch.cat([context.expand(*batch, systems, n, d), grouped], -2)
        masses = self.masses.expand(*batch, n)[..., None, :]
        masses = torch.cat([masses, masses.new_zeros((*batch, 1, group))], -1)
        path = integrate(
            WithMasses(self.field, masses), cloud, self._times(times), **self.solver_options
        )
        path = path[..., n:, :].reshape(path.shape[0], *batch, systems * group, d)
        return path[..., :q, :]

    def __call__(self, queries: Tensor) -> Tensor:
        """T_mu(z) for every query z, shape (..., q, d) (module docstring)."""
        return self.paths(queries, self._times(None))[-1]


def takes_masses(field: object) -> bool:
    """Whether ``field`` is callable with a ``masses`` keyword (an ``nn.Module``'s forward)."""
    call = field.forward if isinstance(field, nn.Module) else field
    return callable(call) and "masses" in inspect.signature(call).parameters
