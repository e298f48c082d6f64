"""Low-rank adaptation (LoRA) of the query, key and value matrices of an attention field.

Hu et al., "LoRA: Low-rank adaptation of large language models", freeze a weight matrix W (k x d)
and train a low-rank correction: the layer uses

    W_eff = W + s B A,   B (k x r), A (r x d),   r <= min(k, d),

so W_eff - W = s B A has rank at most r. Koubbi, Boussard, Hernandez, "The impact of LoRA on the
emergence of clusters in transformers", study what such a correction does to the clustering
dynamics of self-attention; ``scenarios.lora`` measures it.

``LoRA(field, rank=r)`` is a field: it evaluates the wrapped field with every target matrix
replaced by W_eff (``torch.func.functional_call``), so the normalization, manifold, head count and
the ``masses`` keyword of the wrapped field work unchanged. A target the field holds as None is
read with ``SelfAttention``'s convention: W = I for the query and key, and V_h = I / H per head
for a value with H heads. With H > 1 heads every head h has its own factors B_h, A_h (a target
shared by all heads is broadcast to one copy per head first).

Initialisation: ``init="zero"`` is Hu et al.'s, A with i.i.d. N(0, std^2) entries and B = 0, so
the field starts equal to the wrapped one and training moves it. ``init="random"`` draws both B and
A with i.i.d. N(0, std^2) entries: a random low-rank perturbation, whose size

    eps(W) = s |B A|_F / |W|_F   (``relative_size``, Frobenius norms over all heads)

is the perturbation's relative size; ``rescale_(eps)`` rescales each B to give every target the
relative size eps (the direction of B A kept).

Perturbation bound. Write f_W(x) for the field at the weights W. It is a smooth function of
(W, x), so at a fixed cloud x, f_{W + Delta}(x) - f_W(x) = D_W f(x)[Delta] + O(|Delta|^2): the
change is linear in Delta as Delta -> 0. For the value alone it is exactly linear,
f_{V + Delta}(x) - f_V(x) = P_x(sum_j w_ij Delta x_j), whose size is at most |Delta|_2 max_j |x_j|
(the weights w_ij >= 0 sum to 1 over j under softmax, and P_x is an orthogonal projection).
Along trajectories, with x' = f_W(x), y' = f_{W + Delta}(y), y(0) = x(0), L the Lipschitz constant
of f_W in x and |f_{W + Delta} - f_W| <= K |Delta|, Gronwall's lemma gives

    |x(t) - y(t)| <= (K |Delta| / L) (e^{L t} - 1).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn
from torch.func import functional_call

from dynamics.checks import check_choice, check_int, check_real
from dynamics.field import geometry_of

TARGETS = ("query", "key", "value")
INITS = ("zero", "random")


class LoRA(nn.Module):
    """The field f_{W_eff}(t, x), W_eff = W + scale B A for every target W (module docstring).

    Args:
        field: an attention field holding the targets as attributes (``SelfAttention``): each a
            (k, d) or (heads, k, d) tensor, or None for the identity (I / heads for a value). It
            is copied and the copy frozen: only the factors are trained.
        rank: r, with 1 <= r <= min(k, d) for every target.
        scale: s, multiplying B A.
        targets: the matrices to adapt, distinct names among "query", "key", "value".
        init: "zero" (B = 0: the field starts as the wrapped one) or "random" (B and A drawn).
        std: standard deviation of the drawn entries; 1 / sqrt(d) when None.
        generator: the random generator of the draws (reproducible runs).
        dtype: dtype of the factors and of the base matrices held for None targets; the wrapped
            field's target dtype when it holds one, else torch's default.

    Attributes:
        A, B: ``nn.ParameterDict`` from target name to the factors A (..., r, d) and B (..., k, r),
            the only trainable parameters.
        geometry: the wrapped field's ``geometry``.
    """

    def __init__(
        self,
        field: nn.Module,
        *,
        rank: int,
        scale: float = 1.0,
        targets: tuple[str, ...] | list[str] = TARGETS,
        init: str = "zero",
        std: float | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(field, nn.Module):
            raise TypeError(f"field must be an nn.Module field f(t, x), got {type(field).__name__}")
        self.rank = check_int("rank", rank, minimum=1)
        self.scale = check_real("scale", scale)
        self.targets = _check_targets(targets)
        self.init = check_choice("init", init, INITS)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
        self.geometry = geometry_of(field)
        self.field = copy.deepcopy(field).requires_grad_(False)
        bases = {name: self._base_matrix(name, dtype) for name in self.targets}
        d = next(iter(bases.values())).shape[-1]
        std = 1.0 / math.sqrt(d) if std is None else check_real("std", std, minimum=0, strict=True)
        self.A, self.B = nn.ParameterDict(), nn.ParameterDict()
        for name, base in bases.items():
            *lead, k, d = base.shape
            if self.rank > min(k, d):
                raise ValueError(
                    f"rank={self.rank} exceeds min(k, d) = {min(k, d)} of the {name} matrix "
                    f"({k} x {d}); choose 1 <= rank <= {min(k, d)}"
                )
            self.register_buffer(f"base_{name}", base)
            draw = {"generator": generator, "dtype": base.dtype, "device": base.device}
            self.A[name] = nn.Parameter(std * torch.randn((*lead, self.rank, d), **draw))
            b_shape = (*lead, k, self.rank)
            b = std * torch.randn(b_shape, **draw) if init == "random" else base.new_zeros(b_shape)
            self.B[name] = nn.Parameter(b)

    def _base_matrix(self, name: str, dtype: torch.dtype | None) -> Tensor:
        """The frozen W of target ``name``, one copy per head when the field has several."""
        if not hasattr(self.field, name):
            raise ValueError(
                f"targets include {name!r} but the {type(self.field).__name__} field has no "
                f"{name!r} attribute; targets must be among its matrices"
            )
        matrix = getattr(self.field, name)
        heads = getattr(self.field, "heads", 1)
        if matrix is None:
            d = getattr(self.field, "d", None)
            if not isinstance(d, int):
                raise ValueError(
                    f"the field holds {name}=None (the identity) but has no integer attribute d "
                    "to size it; give the field an explicit matrix"
                )
            matrix = torch.eye(d, dtype=dtype or torch.get_default_dtype())
            if name == "value":
                matrix = matrix / heads
        elif not isinstance(matrix, Tensor) or matrix.ndim not in (2, 3):
            raise ValueError(f"the field's {name} must be a (k, d) or (heads, k, d) tensor or None")
        matrix = matrix.detach().to(dtype or matrix.dtype)
        if heads > 1 and matrix.ndim == 2:
            matrix = matrix.expand(heads, *matrix.shape)
        return matrix.clone()

    def extra_repr(self) -> str:
        return f"rank={self.rank}, scale={self.scale:g}, targets={self.targets}, init={self.init!r}"

    def base_weight(self, name: str) -> Tensor:
        """The frozen W of target ``name``."""
        return getattr(self, f"base_{check_choice('name', name, self.targets)}")

    def delta(self, name: str) -> Tensor:
        """scale B A of target ``name`` (rank <= r per head)."""
        check_choice("name", name, self.targets)
        return self.scale * self.B[name] @ self.A[name]

    def effective_weights(self) -> dict[str, Tensor]:
        """W_eff = W + scale B A for every target, by name."""
        return {name: self.base_weight(name) + self.delta(name) for name in self.targets}

    def relative_size(self) -> dict[str, float]:
        """eps(W) = scale |B A|_F / |W|_F for every target, by name."""
        with torch.no_grad():
            return {
                name: float(
                    torch.linalg.vector_norm(self.delta(name))
                    / torch.linalg.vector_norm(self.base_weight(name))
                )
                for name in self.targets
            }

    @torch.no_grad()
    def rescale_(self, size: float) -> LoRA:
        """Rescale every B in place so that ``relative_size()`` is ``size`` for every target.

        Raises ValueError for a target whose B A is zero (nothing to rescale) when size > 0.
        """
        size = check_real("size", size, minimum=0.0)
        for name, current in self.relative_size().items():
            if current == 0.0 and size > 0.0:
                raise ValueError(
                    f"the {name} perturbation B A is zero (init='zero' before training); it has "
                    "no direction to rescale to a positive size"
                )
            self.B[name].mul_(0.0 if size == 0.0 else size / current)
        return self

    def merged(self) -> nn.Module:
        """A frozen copy of the wrapped field holding W_eff as plain tensors: the same field at
        the cost of the wrapped one (no factors, no ``functional_call``)."""
        merged = copy.deepcopy(self.field)
        for name, weight in self.effective_weights().items():
            merged._parameters.pop(name, None)
            merged._buffers.pop(name, None)
            merged.register_buffer(name, weight.detach().clone())
        return merged

    def forward(self, t: Tensor, x: Tensor, **kwargs: object) -> Tensor:
        """f_{W_eff}(t, x); keywords (e.g. ``masses``) go to the wrapped field."""
        return functional_call(self.field, self.effective_weights(), (t, x), kwargs)


def _check_targets(targets: object) -> tuple[str, ...]:
    """A non-empty tuple of distinct names among ``TARGETS``."""
    if isinstance(targets, str) or not isinstance(targets, tuple | list) or not targets:
        raise ValueError(
            f"targets={targets!r} is not accepted; give a non-empty tuple of names among "
            f"{', '.join(TARGETS)}"
        )
    for name in targets:
        check_choice("targets", name, TARGETS)
    if len(set(targets)) != len(targets):
        raise ValueError(f"targets={targets!r} is not accepted; names must be distinct")
    return tuple(targets)
