"""The in-context map T_mu against the properties that characterise it: it depends on the measure
(not the token list), commutes with permutations, keeps the support's cardinality, does not let
queries act on the context, and is Lipschitz in W1."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynamics import SelfAttention, TimeDependent, wasserstein1
from solvers import InContextMap
from tests.reference import F64

pytestmark = pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")

D, N, T = 2, 10, 1.0
FIXED = {"method": "rk4", "step_size": 0.05}
SINKHORN = {"normalization": "sinkhorn", "sinkhorn_fixed_iters": 3}


def attention(generator: torch.Generator, trainable: bool = False, **options: object) -> nn.Module:
    query, key, value = (torch.randn(D, D, generator=generator, dtype=F64) for _ in range(3))
    if trainable:
        query, key, value = (nn.Parameter(w) for w in (query, key, value))
    return SelfAttention(
        D, beta=1.5, query=query, key=key, value=value, manifold="euclidean", **options
    )


def time_dependent(generator: torch.Generator) -> nn.Module:
    """A TimeDependent field whose weights really vary on [0, T]."""
    field = TimeDependent(attention(generator, trainable=True), size=3, T=T)
    with torch.no_grad():
        for coefficient in field.coefficients.values():
            coefficient[1:] = torch.randn(coefficient[1:].shape, generator=generator, dtype=F64)
    return field


FIELDS = {
    "softmax": lambda g: attention(g),
    "sinkhorn_3": lambda g: attention(g, **SINKHORN),
    "uniform": lambda g: attention(g, normalization="uniform"),
    "time_dependent": time_dependent,
}


def measure(generator: torch.Generator, n: int = N) -> tuple[torch.Tensor, torch.Tensor]:
    masses = torch.rand(n, generator=generator, dtype=F64) + 0.2
    return torch.randn(n, D, generator=generator, dtype=F64), masses / masses.sum()


@pytest.mark.parametrize("name", FIELDS)
def test_splitting_a_token_leaves_every_output_unchanged(name, generator):
    """Token 0 as two coincident copies of mass m_0 / 2: same T_mu at every query, and the same
    output measure (the copies land together, carrying m_0 / 2 each)."""
    field = FIELDS[name](generator)
    x, m = measure(generator)
    queries = torch.randn(7, D, generator=generator, dtype=F64)
    whole = InContextMap(field, x, m, T=T, **FIXED)
    split = InContextMap(
        field, torch.cat([x[:1], x]), torch.cat([m[:1] / 2, m[:1] / 2, m[1:]]), T=T, **FIXED
    )
    tight = {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(split(queries), whole(queries), **tight)
    points, masses = split.push_forward()
    expected, _ = whole.push_forward()
    torch.testing.assert_close(points[1:], expected, **tight)
    torch.testing.assert_close(points[0], points[1], **tight)
    torch.testing.assert_close(masses[:2].sum(), m[0], **tight)
    assert float((expected - x).detach().abs().max()) > 0.1  # the flow does move the tokens


@pytest.mark.parametrize("name", ["softmax", "sinkhorn_3"])
def test_permuting_tokens_permutes_the_outputs(name, generator):
    field = FIELDS[name](generator)
    x, m = measure(generator)
    queries = torch.randn(6, D, generator=generator, dtype=F64)
    order = torch.randperm(N, generator=generator)
    plain = InContextMap(field, x, m, T=T, **FIXED)
    permuted = InContextMap(field, x[order], m[order], T=T, **FIXED)
    tight = {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(permuted(queries), plain(queries), **tight)
    torch.testing.assert_close(permuted.push_forward()[0], plain.push_forward()[0][order], **tight)
    query_order = torch.randperm(6, generator=generator)
    torch.testing.assert_close(plain(queries[query_order]), plain(queries)[query_order], **tight)


def test_support_cardinality_is_preserved(generator):
    """Eight tokens on five distinct points: the output measure sits on exactly five points
    (coincident tokens stay together, distinct ones stay apart, no mass is lost)."""
    field = FIELDS["softmax"](generator)
    points, _ = measure(generator, 5)
    x = points[[0, 1, 2, 3, 4, 0, 0, 3]]
    out, masses = InContextMap(field, x, T=T, **FIXED).push_forward()
    distances = torch.cdist(out, out)
    same = distances < 1e-12
    assert int(torch.unique(same.int(), dim=0).shape[0]) == 5
    assert bool((same == (torch.cdist(x, x) == 0)).all())
    assert float(distances[~same].min()) > 1e-2
    torch.testing.assert_close(masses, torch.full((8,), 1 / 8, dtype=F64))


def test_queries_do_not_act_on_the_context(generator):
    """T_mu(z) is the same alone or among many queries, in any grouping, and a context token is
    its own query: T_mu(x_j) = x_j(T)."""
    field = FIELDS["softmax"](generator)
    x, m = measure(generator)
    queries = 2 * torch.randn(41, D, generator=generator, dtype=F64)
    grouped = InContextMap(field, x, m, T=T, queries_per_system=7, **FIXED)(queries)
    alone = torch.cat([InContextMap(field, x, m, T=T, **FIXED)(z[None]) for z in queries[:5]])
    tight = {"rtol": 1e-12, "atol": 1e-12}
    torch.testing.assert_close(grouped[:5], alone, **tight)
    in_one = InContextMap(field, x, m, T=T, queries_per_system=41, **FIXED)(queries)
    torch.testing.assert_close(grouped, in_one, **tight)
    own = InContextMap(field, x, m, T=T, **FIXED)
    torch.testing.assert_close(own(x), own.push_forward()[0], **tight)


def test_batched_contexts_and_adaptive_solver(generator):
    """Two contexts solved together equal each solved alone (dopri5, per-system error control)."""
    field = FIELDS["softmax"](generator)
    (x1, m1), (x2, m2) = measure(generator), measure(generator)
    queries = torch.randn(2, 5, D, generator=generator, dtype=F64)
    options = {"T": T, "rtol": 1e-10, "atol": 1e-12}
    both = InContextMap(field, torch.stack([x1, x2]), torch.stack([m1, m2]), **options)(queries)
    for b, (x, m) in enumerate([(x1, m1), (x2, m2)]):
        alone = InContextMap(field, x, m, **options)(queries[b])
        torch.testing.assert_close(both[b], alone, rtol=1e-8, atol=1e-8)


def test_dtype_follows_the_input(generator):
    """float32 in, float32 out, equal to the float64 map to float32 rounding."""
    field = FIELDS["softmax"](generator)
    x, m = measure(generator)
    queries = torch.randn(5, D, generator=generator, dtype=F64)
    exact = InContextMap(field, x, m, T=T, **FIXED)(queries)
    single = InContextMap(field.float(), x.float(), m.float(), T=T, **FIXED)(queries.float())
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), exact, rtol=1e-5, atol=1e-5)


def test_many_queries(generator):
    """5000 queries against 10 tokens: 500 systems of 20 tokens, one batched solve."""
    field = FIELDS["softmax"](generator)
    x, m = measure(generator)
    queries = torch.randn(5000, D, generator=generator, dtype=F64)
    in_context = InContextMap(field, x, m, T=T, **FIXED)
    out = in_context(queries)
    assert out.shape == (5000, D)
    torch.testing.assert_close(out[-3:], in_context(queries[-3:]), rtol=1e-12, atol=1e-12)


def lipschitz_ratios(field, x, m, y, w, queries) -> tuple[float, float]:
    """sup_z |T_mu(z) - T_nu(z)| / W1(mu, nu) and W1(T_mu#mu, T_nu#nu) / W1(mu, nu)."""
    mu, nu = InContextMap(field, x, m, T=T, **FIXED), InContextMap(field, y, w, T=T, **FIXED)
    distance = float(wasserstein1(x, y, masses_x=m, masses_y=w))
    queries_moved = float(torch.linalg.vector_norm(mu(queries) - nu(queries), dim=-1).max())
    (px, _), (py, _) = mu.push_forward(), nu.push_forward()
    outputs = float(wasserstein1(px, py, masses_x=m, masses_y=w))
    return queries_moved / distance, outputs / distance


@pytest.mark.parametrize("perturbed", ["points", "masses"])
def test_lipschitz_in_w1(perturbed, generator):
    """For contexts nu near mu (points moved by eps v_j, or masses by eps delta_j), both ratios
    stay bounded and converge as eps -> 0 (a Lipschitz, differentiable map; a discontinuous map
    would blow up, a non-Lipschitz one drift). The constants here are about 0.65 to 1.2."""
    field = FIELDS["softmax"](generator)
    x, m = measure(generator)
    queries = torch.randn(20, D, generator=generator, dtype=F64)
    direction = torch.randn(N, D, generator=generator, dtype=F64)
    change = torch.randn(N, generator=generator, dtype=F64)
    change = m * (change - (change * m).sum())  # sums to 0
    ratios = []
    for eps in (1e-2, 1e-3, 1e-4):
        y, w = (x + eps * direction, m) if perturbed == "points" else (x, m + eps * change)
        ratios.append(lipschitz_ratios(field, x, m, y, w, queries))
    ratios = torch.tensor(ratios, dtype=F64)
    assert bool(torch.isfinite(ratios).all()) and float(ratios.max()) < 10.0
    assert float(ratios.min()) > 0.1
    torch.testing.assert_close(ratios[-1], ratios[-2], rtol=1e-2, atol=0)


def test_time_dependent_field_takes_masses(generator):
    """TimeDependent(f)(t, x, masses=m) is f with the weights W(t), weighted by m."""
    field = FIELDS["time_dependent"](generator)
    x, m = measure(generator)
    t = torch.tensor(0.37, dtype=F64)
    weights = field.weights(t)
    fixed = SelfAttention(
        D, beta=1.5, query=weights["query"], key=weights["key"], value=weights["value"],
        manifold="euclidean",
    )  # fmt: skip
    torch.testing.assert_close(field(t, x, masses=m), fixed(t, x, masses=m))
    assert float((field(t, x, masses=m) - field(t, x)).detach().abs().max()) > 1e-3


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda f, x: InContextMap(nn.Linear(2, 2), x), TypeError, "field must be an attention"),
        (lambda f, x: InContextMap(f, x[0]), ValueError, "context must have shape"),
        (lambda f, x: InContextMap(f, x, torch.ones(N, dtype=F64)), ValueError, "sum to 1"),
        (lambda f, x: InContextMap(f, x, T=0.0), ValueError, "T=0.0 must be > 0"),
        (lambda f, x: InContextMap(f, x, queries_per_system=0), ValueError, "queries_per_system"),
        (lambda f, x: InContextMap(f, x)(torch.ones(3, 3, dtype=F64)), ValueError, "expected d=2"),
    ],
)
def test_bad_input_is_refused(call, error, match, generator):
    with pytest.raises(error, match=match):
        call(FIELDS["softmax"](generator), measure(generator)[0])
