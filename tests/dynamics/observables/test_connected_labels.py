"""Connected components of boolean graphs against a union-find reference and the label
propagation, on unions of cliques (the fast path) and on every other kind of graph."""

from __future__ import annotations

import pytest
import torch

from dynamics import connected_labels
from dynamics.observables.cloud import _propagate


def union_find_labels(linked: torch.Tensor) -> list[int]:
    """The smallest vertex of each vertex's component, by union-find on one graph (n, n)."""
    n = linked.shape[-1]
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in linked.nonzero().tolist():
        a, b = root(i), root(j)
        parent[max(a, b)] = min(a, b)  # the root of a component is its smallest vertex
    return [root(i) for i in range(n)]


def propagation_labels(linked: torch.Tensor) -> torch.Tensor:
    """The label propagation from l = (0, ..., n - 1), on every graph."""
    n = linked.shape[-1]
    start = torch.arange(n, dtype=torch.int16).expand(linked.shape[:-1])
    return _propagate(linked, start).long()


def symmetric_graph(edges: torch.Tensor) -> torch.Tensor:
    """edges (..., n, n) made symmetric, with a True diagonal."""
    eye = torch.eye(edges.shape[-1], dtype=torch.bool)
    return edges | edges.mT | eye


def union_of_cliques(n: int, generator: torch.Generator) -> torch.Tensor:
    """Vertices put in random groups (1 to n of them), each group a clique."""
    count = int(torch.randint(1, n + 1, (1,), generator=generator))
    groups = torch.randint(0, count, (n,), generator=generator)
    return groups[:, None] == groups[None, :]


def chain(n: int, generator: torch.Generator) -> torch.Tensor:
    """A path through the vertices in a random order: one component, diameter n - 1."""
    order = torch.randperm(n, generator=generator)
    edges = torch.zeros(n, n, dtype=torch.bool)
    edges[order[:-1], order[1:]] = True
    return symmetric_graph(edges)


def mixed(n: int, generator: torch.Generator) -> torch.Tensor:
    """Random groups, each a clique, a chain or a sparse random graph."""
    groups = torch.randint(0, 4, (n,), generator=generator)
    linked = torch.eye(n, dtype=torch.bool)
    for group in range(4):
        members = (groups == group).nonzero().flatten()
        size = len(members)
        if size == 0:
            continue
        kind = group % 3
        if kind == 0:
            block = torch.ones(size, size, dtype=torch.bool)
        elif kind == 1:
            block = chain(size, generator)
        else:
            block = symmetric_graph(torch.rand(size, size, generator=generator) < 1.5 / size)
        linked[members[:, None], members[None, :]] = block
    return linked


def random_graph(n: int, density: float, generator: torch.Generator) -> torch.Tensor:
    return symmetric_graph(torch.rand(n, n, generator=generator) < density)


def graphs_of_every_kind(n: int, generator: torch.Generator) -> torch.Tensor:
    """(40, n, n): unions of cliques, chains, mixed graphs and Erdos-Renyi graphs."""
    kinds = [union_of_cliques(n, generator) for _ in range(10)]
    kinds += [chain(n, generator) for _ in range(10)]
    kinds += [mixed(n, generator) for _ in range(10)]
    kinds += [random_graph(n, density, generator) for density in torch.linspace(0, 0.3, 10)]
    return torch.stack(kinds)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 32, 50])
def test_labels_equal_union_find_and_propagation_on_every_kind_of_graph(n):
    generator = torch.Generator().manual_seed(n)
    linked = graphs_of_every_kind(n, generator)
    labels = connected_labels(linked)
    assert labels.dtype == torch.long and labels.shape == (40, n)
    assert labels.tolist() == [union_find_labels(graph) for graph in linked]
    assert torch.equal(labels, propagation_labels(linked))
    for graph, graph_labels in zip(linked, labels, strict=True):  # one graph alone, too
        assert torch.equal(connected_labels(graph), graph_labels)


def test_the_fast_path_serves_unions_of_cliques_and_only_them():
    """A union of cliques has labels first_i = min{j : linked[i, j]}; a chain of three does
    not (first = (0, 0, 1), labels (0, 0, 0))."""
    generator = torch.Generator().manual_seed(0)
    cliques = torch.stack([union_of_cliques(20, generator) for _ in range(50)])
    first = cliques.int().argmax(-1)  # the first maximal index
    assert torch.equal(connected_labels(cliques), first)
    path = symmetric_graph(torch.tensor([[0, 1, 0], [0, 0, 1], [0, 0, 0]], dtype=torch.bool))
    assert connected_labels(path).tolist() == [0, 0, 0]
    assert path.int().argmax(-1).tolist() == [0, 0, 1]


def test_mixed_batches_with_leading_dimensions_keep_each_graph_in_its_place():
    """Cliques and chains interleaved in a (3, 4, n, n) batch: only the chains are propagated
    and scattered back; a transposed (non-contiguous) and an expanded batch give the same."""
    generator = torch.Generator().manual_seed(1)
    n = 12
    graphs = [union_of_cliques(n, generator) if k % 3 else chain(n, generator) for k in range(12)]
    linked = torch.stack(graphs).reshape(3, 4, n, n)
    labels = connected_labels(linked)
    assert labels.shape == (3, 4, n)
    expected = [union_find_labels(graph) for graph in linked.reshape(12, n, n)]
    assert labels.reshape(12, n).tolist() == expected
    assert torch.equal(connected_labels(linked.mT), labels)
    expanded = linked[:1, :1].expand(2, 3, n, n)
    assert torch.equal(connected_labels(expanded), labels[:1, :1].expand(2, 3, n))


def test_a_single_vertex_and_no_edges():
    assert connected_labels(torch.ones(1, 1, dtype=torch.bool)).tolist() == [0]
    assert connected_labels(torch.eye(5, dtype=torch.bool)).tolist() == [0, 1, 2, 3, 4]
    batch = torch.ones(4, 1, 1, dtype=torch.bool)
    assert connected_labels(batch).tolist() == [[0]] * 4


def test_labels_need_a_boolean_adjacency():
    with pytest.raises(TypeError, match=r"linked must be a boolean torch\.Tensor.*float32"):
        connected_labels(torch.eye(3))
    with pytest.raises(TypeError, match="got list"):
        connected_labels([[True]])
