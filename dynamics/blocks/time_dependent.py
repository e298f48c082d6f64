"""Fields whose every weight is a smooth function of the depth variable t.

Neural-ODE transformers (Tran et al., "Neural ODE Transformers: analyzing internal dynamics and
adaptive fine-tuning") let the weights of one block vary with depth. That paper produces them with a
small hypernetwork of t; here each weight W of the wrapped field is a finite basis expansion

    W(t) = sum_{k=0}^{K-1} c_k phi_k(t),   t in [0, T],

with trainable coefficients c_k of W's shape, and the field is f(t, x) = f_{W(t)}(x) (the wrapped
field evaluated by ``torch.func.functional_call`` with the weights at t). The expansion is exact to
test, linear in its parameters, and K basis functions cost K times the parameters of the block: the
budget of a K-layer discrete transformer. Bases, both with phi_0 = 1 (so K = 1 is the autonomous
block) and both complete in C[0, T]:

- "legendre": phi_k(t) = P_k(2 t / T - 1), the shifted Legendre polynomials (orthogonal on
  [0, T]; P_0 = 1, P_1 = s, (k + 1) P_{k+1}(s) = (2k + 1) s P_k(s) - k P_{k-1}(s));
- "cosine": phi_k(t) = cos(k pi t / T), the half-period cosine series (no periodicity imposed
  between t = 0 and t = T).

A split field (``dynamics.SplitField``, f = f_attn + f_mlp, e.g. ``TransformerBlock``) stays
split: ``TimeDependent(block)`` is then a ``SplitTimeDependent`` whose parts are the block's parts
with the weights at t, f_attn(t, x) = f_attn_{W(t)}(x) and f_mlp(t, x) = f_mlp_{W(t)}(x), so the
splitting methods (``lie_trotter``, ``strang``) apply with t handled as ``solvers.steppers.
splitting`` describes.

Initialisation: c_0 = the wrapped field's weights and c_k = 0 for k >= 1, so the wrapper starts as
the autonomous field for every t. Outside [0, T] the expansion is evaluated as written
(polynomial or cosine extrapolation).
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn
from torch.func import functional_call

from dynamics.checks import check_choice, check_int, check_real
from dynamics.field import SplitField, geometry_of

BASES = ("legendre", "cosine")


def basis_functions(t: Tensor | float, size: int, basis: str, T: float) -> Tensor:
    """phi_0(t), ..., phi_{size-1}(t) of the module docstring, shape (size, *t.shape)."""
    size = check_int("size", size, minimum=1)
    check_choice("basis", basis, BASES)
    T = check_real("T", T, minimum=0.0, strict=True)
    t = torch.as_tensor(t)
    if basis == "cosine":
        k = torch.arange(size, dtype=t.dtype, device=t.device).reshape(-1, *([1] * t.ndim))
        return torch.cos(k * (math.pi / T) * t)
    s = 2.0 * t / T - 1.0
    values = [torch.ones_like(s), s][:size]
    for k in range(1, size - 1):
        values.append(((2 * k + 1) * s * values[k] - k * values[k - 1]) / (k + 1))
    return torch.stack(values)


class TimeDependent(nn.Module):
    """The field f(t, x) = f_{W(t)}(x), every weight W(t) = sum_k c_k phi_k(t) (module docstring).

    Args:
        field: an ``nn.Module`` field ``f(t, x)``; it is copied, and the copy's parameters become
            the coefficients c_0 (its buffers stay buffers).
        basis: "legendre" or "cosine".
        size: number K of basis functions (>= 1; 1 is the autonomous field).
        T: the depth interval [0, T] the basis lives on (> 0).

    Attributes:
        coefficients: ``nn.ParameterDict`` from the field's parameter names ("." written as "/")
            to the coefficients, shape (K, *W.shape).
        geometry: the wrapped field's ``geometry``.
    """

    def __new__(cls, field: object = None, **options: object) -> TimeDependent:
        """A ``SplitTimeDependent`` when ``field`` is a split field (module docstring)."""
        if cls is TimeDependent and isinstance(field, SplitField):
            cls = SplitTimeDependent
        return super().__new__(cls)

    def __init__(
        self, field: nn.Module, *, basis: str = "legendre", size: int = 1, T: float = 1.0
    ) -> None:
        super().__init__()
        if not isinstance(field, nn.Module):
            raise TypeError(f"field must be an nn.Module field f(t, x), got {type(field).__name__}")
        self.basis = check_choice("basis", basis, BASES)
        self.size = check_int("size", size, minimum=1)
        self.T = check_real("T", T, minimum=0.0, strict=True)
        field = copy.deepcopy(field)
        named = list(field.named_parameters())
        if not named:
            raise ValueError("field has no parameters to make time-dependent")
        self.geometry = geometry_of(field)
        self.names = [name for name, _ in named]
        self.coefficients = nn.ParameterDict()
        for name, weight in named:
            coefficient = weight.detach().new_zeros((self.size, *weight.shape))
            coefficient[0] = weight.detach()
            self.coefficients[name.replace(".", "/")] = nn.Parameter(coefficient)
            owner, _, attribute = name.rpartition(".")
            module = field.get_submodule(owner)
            del module._parameters[attribute]
            module.register_buffer(attribute, None, persistent=False)  # filled at every call
        self.field = field

    def extra_repr(self) -> str:
        return f"basis={self.basis!r}, size={self.size}, T={self.T:g}"

    def weights(self, t: Tensor | float) -> dict[str, Tensor]:
        """W(t) for every parameter name of the wrapped field (``t`` a scalar)."""
        first = next(iter(self.coefficients.values()))
        t = torch.as_tensor(t, dtype=first.dtype, device=first.device)
        if t.ndim != 0:
            raise ValueError(f"t must be a scalar time, got shape {tuple(t.shape)}")
        phi = basis_functions(t, self.size, self.basis, self.T)
        return {
            name: torch.tensordot(phi, self.coefficients[name.replace(".", "/")], dims=1)
            for name in self.names
        }

    def forward(self, t: Tensor, x: Tensor, *, masses: Tensor | None = None) -> Tensor:
        """f_{W(t)}(t, x); with ``masses`` (a weighted cloud, ``dynamics.WithMasses``),
        f_{W(t)}(t, x, masses=masses), for a wrapped field that takes them."""
        options = {} if masses is None else {"masses": masses}
        return functional_call(self.field, self.weights(t), (t, x), options)


class _Method(nn.Module):
    """``module.name(*args)`` as a forward, so that ``functional_call`` reaches that method."""

    def __init__(self, module: nn.Module, name: str) -> None:
        super().__init__()
        self.module = module
        self.name = name

    def forward(self, *args: Tensor) -> Tensor:
        return getattr(self.module, self.name)(*args)


class SplitTimeDependent(TimeDependent):
    """``TimeDependent`` around a split field: f(t, x) = f_attn(t, x) + f_mlp(t, x) with both parts
    evaluated at the weights W(t) (module docstring)."""

    def _part(self, name: str, t: Tensor, x: Tensor) -> Tensor:
        # Not a registered submodule: the field's weights appear once in the state dict.
        part = _Method(self.field, name)
        weights = {f"module.{key}": value for key, value in self.weights(t).items()}
        return functional_call(part, weights, (t, x))

    def attention_part(self, t: Tensor, x: Tensor) -> Tensor:
        """f_attn_{W(t)}(t, x)."""
        return self._part("attention_part", t, x)

    def mlp_part(self, t: Tensor, x: Tensor) -> Tensor:
        """f_mlp_{W(t)}(t, x)."""
        return self._part("mlp_part", t, x)
