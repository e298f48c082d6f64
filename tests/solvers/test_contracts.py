"""Every method of ``solvers.METHODS`` against one field of every kind: accepted and run, or
refused before any evaluation with one line naming the method, the field and what would accept it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from dynamics import (
    Accelerated,
    HamiltonianAttention,
    SelfAttention,
    TimeDependent,
    TransformerBlock,
    uniform_sphere,
)
from solvers import (
    METHODS,
    check_method,
    check_step_size,
    configure,
    integrate,
    methods_for,
    tao_stepper,
)
from tests.reference import F64

# Members whose every call is a field evaluation, for each kind.
EVALUATED = ("forward", "force", "attention_part", "mlp_part", "gradients", "grad_x", "grad_p")


def _cloud(generator: torch.Generator, d: int, *, sphere: bool) -> torch.Tensor:
    if sphere:
        return uniform_sphere(5, d, generator=generator, dtype=F64)
    return torch.randn(5, d, generator=generator, dtype=F64)


def _time_dependent_block(norm: str = "pre") -> TimeDependent:
    block = TimeDependent(TransformerBlock(4, 1, 8, norm=norm).double(), size=2)
    with torch.no_grad():
        for coefficient in block.coefficients.values():
            coefficient[1] = 0.1 * torch.randn_like(coefficient[1])
    return block


# name: (field factory, state factory, first time)
KINDS: dict[str, tuple[Callable[[], object], Callable[[torch.Generator], object], float]] = {
    "sphere attention": (
        lambda: SelfAttention(3),
        lambda g: _cloud(g, 3, sphere=True),
        0.0,
    ),
    "euclidean attention": (
        lambda: SelfAttention(3, manifold="euclidean"),
        lambda g: _cloud(g, 3, sphere=False),
        0.0,
    ),
    "momentum on the sphere": (
        lambda: Accelerated(SelfAttention(3), damping="heavy_ball"),
        lambda g: (_cloud(g, 3, sphere=True), torch.zeros(5, 3, dtype=F64)),
        0.0,
    ),
    "momentum in R^d": (
        lambda: Accelerated(SelfAttention(3, manifold="euclidean")),
        lambda g: (_cloud(g, 3, sphere=False), 0.1 * _cloud(g, 3, sphere=False)),
        0.0,
    ),
    "transformer block": (
        lambda: TransformerBlock(4, 1, 8).double(),
        lambda g: _cloud(g, 4, sphere=False),
        0.0,
    ),
    "time-dependent block": (_time_dependent_block, lambda g: _cloud(g, 4, sphere=False), 0.0),
    "time-dependent post-norm block": (
        lambda: _time_dependent_block("post"),
        lambda g: _cloud(g, 4, sphere=True),
        0.0,
    ),
    "hamiltonian attention": (
        lambda: HamiltonianAttention(2),
        lambda g: (_cloud(g, 2, sphere=False), 0.1 * _cloud(g, 2, sphere=False)),
        1.0,  # the default friction 3 / t needs t > 0
    ),
}


def counting(field: object) -> list[str]:
    """Count every evaluation of ``field`` (its kind unchanged): each evaluated member it has is
    replaced on the instance by a wrapper that records the call."""
    calls: list[str] = []
    for member in EVALUATED:
        if hasattr(field, member):
            method = getattr(field, member)

            def wrapped(*args, _method=method, _member=member, **kwargs):
                calls.append(_member)
                return _method(*args, **kwargs)

            setattr(field, member, wrapped)
    return calls


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs_or_refuses_every_field_kind(method, kind, generator):
    make_field, make_state, start = KINDS[kind]
    field, x0 = make_field(), make_state(generator)
    calls = counting(field)
    t = torch.tensor([start, start + 0.05, start + 0.1], dtype=F64)
    accepting = methods_for(field)
    if method in accepting:
        check_method(method, field, x0)
        xs = integrate(field, x0, t, method=method)
        for part, start_part in zip(
            xs if isinstance(xs, tuple) else (xs,),
            x0 if isinstance(x0, tuple) else (x0,),
            strict=True,
        ):
            assert part.shape == (3, *start_part.shape)
            assert bool(torch.isfinite(part).all())
        assert calls, "an accepted method evaluates the field"
        return
    with pytest.raises((TypeError, ValueError)) as refusal:
        integrate(field, x0, t, method=method)
    message = str(refusal.value)
    assert calls == []
    assert "\n" not in message
    assert f"method {method!r}" in message
    assert type(field).__name__ in message
    assert f"methods accepting {type(field).__name__}: {', '.join(accepting)}" in message
    with pytest.raises(type(refusal.value), match="methods accepting"):
        check_method(method, field)


def test_methods_for_names_the_kinds_the_table_declares():
    assert methods_for(SelfAttention(3)) == (
        *(name for name, spec in METHODS.items() if spec.source == "torchdiffeq"),
        "projected_euler",
        "exponential_euler",
    )
    assert "projected_euler" not in methods_for(SelfAttention(3, manifold="euclidean"))
    assert set(methods_for(TransformerBlock(4, 1, 8))) >= {"lie_trotter", "strang"}
    post = TimeDependent(TransformerBlock(4, 1, 8, norm="post"))
    assert set(methods_for(post)) >= {"projected_euler", "lie_trotter", "strang"}
    assert set(methods_for(Accelerated(SelfAttention(3)))) >= {"leapfrog", "nesterov_layer"}
    hamiltonian = set(methods_for(HamiltonianAttention(2)))
    assert hamiltonian >= {"tao", "presymplectic_euler"}
    assert "leapfrog" not in hamiltonian


def test_tao_options_are_reached_through_integrate(generator):
    field = HamiltonianAttention(2, c_log=0.0)
    x0, p0 = _cloud(generator, 2, sphere=False), 0.1 * _cloud(generator, 2, sphere=False)
    t = torch.linspace(0, 0.2, 5, dtype=F64)
    configured = integrate(field, (x0, p0), t, method=configure("tao", omega=10.0))
    x, state = (x0, p0), []
    for k in range(4):
        x = tao_stepper(10.0)(field, t[k], x, t[k + 1] - t[k])
        state.append(x)
    torch.testing.assert_close(configured[0][-1], state[-1][0], rtol=0, atol=0)
    default = integrate(field, (x0, p0), t, method="tao")
    assert float((default[0][-1] - configured[0][-1]).abs().max()) > 0


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: configure("tao", gamma=1.0), ValueError, r"'tao' has no option gamma=1.0.*omega"),
        (lambda: configure("euler", omega=1.0), ValueError, r"'euler' has no option.*none"),
        (lambda: configure("tao", omega=0.0), ValueError, r"omega=0.0 must be > 0"),
        (lambda: configure("rk45"), ValueError, r"method='rk45' is unknown"),
        (lambda: check_step_size("dopri5", 0.1), ValueError, r"step_size=0.1 .* 'dopri5'"),
        (lambda: check_step_size("rk4", -1), ValueError, r"step_size=-1.0 must be > 0"),
    ],
)
def test_bad_options_are_refused_in_one_line(call, error, pattern):
    with pytest.raises(error, match=pattern) as refusal:
        call()
    assert "\n" not in str(refusal.value)


def test_step_size_passes_for_fixed_step_methods():
    assert check_step_size("rk4", 0.25) == 0.25
    assert check_step_size(configure("tao", omega=5.0), None) is None
