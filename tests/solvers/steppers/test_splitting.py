"""Splitting of f = f_attn + f_mlp: observed orders, closed forms, evaluation counts, the layer."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from dynamics import TimeDependent, TransformerBlock
from solvers import METHODS, integrate, lie_trotter_step
from tests.dynamics.blocks.test_transformer import randomize
from tests.reference import F64, fitted_slope


class LinearParts(nn.Module):
    """f(t, x) = a(t) x A^T + b(t) x B^T, split as attention_part = a(t) A x, mlp_part = b(t) B x
    (row-wise on the tokens), with a = b = 1 unless ``time_dependent`` (a = cos t, b = 1 + t)."""

    def __init__(self, a: Tensor, b: Tensor, *, time_dependent: bool = False) -> None:
        super().__init__()
        self.a, self.b, self.time_dependent = a, b, time_dependent

    def attention_part(self, t: Tensor, x: Tensor) -> Tensor:
        scale = torch.cos(torch.as_tensor(t)) if self.time_dependent else 1.0
        return scale * x @ self.a.T

    def mlp_part(self, t: Tensor, x: Tensor) -> Tensor:
        scale = 1.0 + torch.as_tensor(t) if self.time_dependent else 1.0
        return scale * x @ self.b.T

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        return self.attention_part(t, x) + self.mlp_part(t, x)


class CountingParts(nn.Module):
    """A block that counts the evaluations of each part (and of the whole field)."""

    def __init__(self, block: TransformerBlock) -> None:
        super().__init__()
        self.block = block
        self.calls = {"attention": 0, "mlp": 0, "forward": 0}

    def attention_part(self, t: Tensor, x: Tensor) -> Tensor:
        self.calls["attention"] += 1
        return self.block.attention_part(t, x)

    def mlp_part(self, t: Tensor, x: Tensor) -> Tensor:
        self.calls["mlp"] += 1
        return self.block.mlp_part(t, x)

    def forward(self, t: Tensor, x: Tensor) -> Tensor:
        self.calls["forward"] += 1
        return self.block(t, x)


def smooth_block(norm: str, generator: torch.Generator) -> TransformerBlock:
    """A random block of width 4 (2 heads, hidden 8, tanh MLP), float64."""
    return randomize(TransformerBlock(4, 2, 8, norm=norm, activation="tanh"), generator).double()


def time_dependent_block(generator: torch.Generator) -> TimeDependent:
    """A pre-norm block whose weights vary with t: Legendre coefficients c_1, c_2 of size 0.3."""
    field = TimeDependent(smooth_block("pre", generator), size=3)
    with torch.no_grad():
        for coefficient in field.coefficients.values():
            coefficient[1:] = 0.3 * torch.randn(
                coefficient[1:].shape, generator=generator, dtype=F64
            )
    return field


def non_commuting(generator: torch.Generator) -> LinearParts:
    a = 0.5 * torch.randn(4, 4, generator=generator, dtype=F64)
    b = 0.5 * torch.randn(4, 4, generator=generator, dtype=F64)
    assert (a @ b - b @ a).abs().max() > 0.1
    return LinearParts(a, b, time_dependent=True)


@pytest.mark.parametrize("method", ["lie_trotter", "strang"])
@pytest.mark.parametrize("case", ["pre", "post", "linear, time-dependent", "time-dependent block"])
def test_observed_order_as_the_step_halves(method, case, generator):
    """The error at T = 1 falls like h^p (p = 1, 2) against dopri5 at tolerance 1e-13; the parts
    do not commute, so this measures the splitting error as well as the sub-steps'."""
    if case == "linear, time-dependent":
        field = non_commuting(generator)
        x0 = torch.randn(6, 4, generator=generator, dtype=F64)
    elif case == "time-dependent block":
        field = time_dependent_block(generator)
        x0 = torch.randn(6, 4, generator=generator, dtype=F64)
    else:
        field = smooth_block(case, generator)
        x0 = torch.nn.functional.normalize(
            torch.randn(6, 4, generator=generator, dtype=F64), dim=-1
        )
    t = torch.tensor([0.0, 1.0], dtype=F64)
    with torch.no_grad():
        exact = integrate(field, x0, t, method="dopri5", rtol=1e-13, atol=1e-14)[-1]
        steps = [1 / 8, 1 / 16, 1 / 32, 1 / 64]
        errors = [
            (integrate(field, x0, t, method=method, step_size=h)[-1] - exact).abs().max().item()
            for h in steps
        ]
    assert fitted_slope(steps, errors) == pytest.approx(METHODS[method].order, abs=0.15)


def test_commuting_parts_match_the_closed_form(generator):
    """A = Q diag(a) Q^T and B = Q diag(b) Q^T commute, so exact sub-flows would be exact,
    e^{hB} e^{hA} = e^{h(A+B)}; with Euler sub-steps L Lie-Trotter steps multiply each
    eigencomponent by ((1 + h b_k)(1 + h a_k))^L, and Strang's midpoint sub-steps by
    (m(h b_k / 2)^2 m(h a_k))^L with m(z) = 1 + z + z^2 / 2."""
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=generator, dtype=F64))
    a = torch.tensor([-1.0, -0.5, 0.3, 0.8], dtype=F64)
    b = torch.tensor([0.7, -1.2, 0.4, -0.1], dtype=F64)
    field = LinearParts(q @ torch.diag(a) @ q.T, q @ torch.diag(b) @ q.T)
    x0 = torch.randn(5, 4, generator=generator, dtype=F64)
    steps, h = 8, 0.25

    def m(z: Tensor) -> Tensor:
        return 1 + z + z**2 / 2

    factors = {
        "lie_trotter": ((1 + h * b) * (1 + h * a)) ** steps,
        "strang": (m(h * b / 2) ** 2 * m(h * a)) ** steps,
    }
    exact = x0 @ q @ torch.diag(torch.exp(2.0 * (a + b))) @ q.T
    for method, factor in factors.items():
        result = integrate(field, x0, [0.0, 2.0], method=method, step_size=h)[-1]
        closed_form = x0 @ q @ torch.diag(factor) @ q.T
        torch.testing.assert_close(result, closed_form, rtol=1e-12, atol=1e-12)
        assert (result - exact).abs().max() > 1e-3  # the sub-steps' own error remains


@pytest.mark.parametrize(("method", "attention", "mlp"), [("lie_trotter", 1, 1), ("strang", 2, 4)])
def test_evaluations_per_step_are_counted(method, attention, mlp, generator):
    """Each part's evaluations per step; the table's count is the more-used part's."""
    counter = CountingParts(smooth_block("pre", generator))
    x0 = torch.randn(6, 4, generator=generator, dtype=F64)
    with torch.no_grad():
        integrate(counter, x0, torch.linspace(0, 1, 11, dtype=F64), method=method)
    assert counter.calls == {"attention": 10 * attention, "mlp": 10 * mlp, "forward": 0}
    assert METHODS[method].evaluations == max(attention, mlp)


def test_one_lie_trotter_step_is_a_sequential_pre_norm_layer(generator):
    """x + h Attn(LN_1 x) -> y;  y + h MLP(LN_2 y), written with torch's own layers."""
    d, heads, hidden, h = 8, 2, 16, 0.3
    block = randomize(TransformerBlock(d, heads, hidden), generator).double()
    attention = nn.MultiheadAttention(d, heads, batch_first=True).double()
    with torch.no_grad():
        attention.in_proj_weight.copy_(block.attention.qkv.weight)
        attention.in_proj_bias.copy_(block.attention.qkv.bias)
        attention.out_proj.weight.copy_(block.attention.out.weight)
        attention.out_proj.bias.copy_(block.attention.out.bias)
    x = torch.randn(2, 5, d, generator=generator, dtype=F64)

    def layer_norm(z: Tensor, norm: nn.LayerNorm) -> Tensor:
        centred = z - z.mean(-1, keepdim=True)
        scale = torch.sqrt(centred.pow(2).mean(-1, keepdim=True) + norm.eps)
        return centred / scale * norm.weight + norm.bias

    with torch.no_grad():
        u = layer_norm(x, block.norm1)
        y = x + h * attention(u, u, u, need_weights=False)[0]
        inner = layer_norm(y, block.norm2) @ block.mlp.inner.weight.T + block.mlp.inner.bias
        outer = torch.nn.functional.gelu(inner) @ block.mlp.outer.weight.T + block.mlp.outer.bias
        expected = y + h * outer
        result = lie_trotter_step(
            block, torch.tensor(0.0, dtype=F64), x, torch.tensor(h, dtype=F64)
        )
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["lie_trotter", "strang"])
def test_fields_without_parts_and_tuple_states_are_refused(method, generator):
    x0 = torch.randn(4, 3, generator=generator, dtype=F64)
    with pytest.raises(TypeError, match=r"needs a field with attention_part.*lacks attention_part"):
        integrate(lambda t, x: -x, x0, [0.0, 1.0], method=method)
    with pytest.raises(TypeError, match=r"integrates tensor states, got a tuple"):
        integrate(LinearParts(torch.eye(3), torch.eye(3)), (x0, x0), [0.0, 1.0], method=method)


def test_time_dependent_block_splits_into_its_parts_at_the_weights_of_t(generator):
    field = time_dependent_block(generator)
    x = torch.randn(6, 4, generator=generator, dtype=F64)
    with torch.no_grad():
        for time in (0.0, 0.4, 1.0):
            t = torch.tensor(time, dtype=F64)
            parts = field.attention_part(t, x) + field.mlp_part(t, x)
            torch.testing.assert_close(parts, field(t, x), rtol=1e-13, atol=1e-13)
        start, end = (field.attention_part(torch.tensor(s, dtype=F64), x) for s in (0.0, 1.0))
    assert float((end - start).abs().max()) > 1e-3
