"""The geometry values: the sphere's maps keep tokens unit and velocities tangent, R^d's are
straight lines, and every field and wrapper carries one."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from dynamics import (
    EUCLIDEAN,
    SPHERE,
    Accelerated,
    LinearAttention,
    LoRA,
    SelfAttention,
    TimeDependent,
    TransformerBlock,
    WithMasses,
    geometry_named,
    uniform_sphere,
)
from tests.reference import F64


def test_sphere_maps_stay_on_the_sphere(generator):
    x = uniform_sphere(6, 3, generator=generator, dtype=F64)
    v = SPHERE.project(x, torch.randn(6, 3, generator=generator, dtype=F64))
    torch.testing.assert_close((x * v).sum(-1), torch.zeros(6, dtype=F64), rtol=0, atol=1e-15)
    moved, velocity = SPHERE.free_flow(x, v, 0.7)
    ones = torch.ones(6, dtype=F64)
    torch.testing.assert_close(moved.norm(dim=-1), ones, rtol=0, atol=1e-15)
    torch.testing.assert_close((moved * velocity).sum(-1), 0 * ones, rtol=0, atol=1e-15)
    torch.testing.assert_close(SPHERE.exp(x, 0.7 * v), moved, rtol=0, atol=1e-14)
    torch.testing.assert_close(SPHERE.retract(3 * x), x, rtol=0, atol=1e-15)
    # x'' = P_x a - |v|^2 x keeps d/dt <x, v> = |v|^2 + <x, x''> = 0
    a = torch.randn(6, 3, generator=generator, dtype=F64)
    radial = (v * v).sum(-1) + (x * SPHERE.acceleration(x, v, a)).sum(-1)
    torch.testing.assert_close(radial, 0 * ones, rtol=0, atol=1e-14)


def test_euclidean_maps_are_straight_lines(generator):
    x, v = torch.randn(2, 5, 3, generator=generator, dtype=F64)
    assert EUCLIDEAN.project(x, v) is v and EUCLIDEAN.retract(x) is x
    moved, velocity = EUCLIDEAN.free_flow(x, v, 0.5)
    torch.testing.assert_close(moved, x + 0.5 * v, rtol=0, atol=0)
    assert velocity is v
    torch.testing.assert_close(EUCLIDEAN.exp(x, v), x + v, rtol=0, atol=0)


def test_fields_and_wrappers_carry_their_geometry():
    sphere = SelfAttention(3)
    assert sphere.geometry is SPHERE and Accelerated(sphere).geometry is SPHERE
    assert Accelerated(sphere, manifold="euclidean").geometry is EUCLIDEAN
    assert TransformerBlock(4, 1, 8).geometry is EUCLIDEAN
    assert TimeDependent(TransformerBlock(4, 1, 8, norm="post")).geometry is SPHERE
    assert LoRA(sphere, rank=1).geometry is SPHERE
    assert WithMasses(LinearAttention(3), torch.ones(4) / 4).geometry is EUCLIDEAN


def test_copies_and_pickles_are_the_same_geometry():
    for geometry in (SPHERE, EUCLIDEAN):
        assert copy.deepcopy(geometry) is geometry
        assert pickle.loads(pickle.dumps(geometry)) is geometry
    assert copy.deepcopy(SelfAttention(3)).geometry is SPHERE


def test_unknown_geometries_and_fields_without_one_are_refused():
    with pytest.raises(ValueError, match=r"manifold='torus' is not accepted; choose one of sphere"):
        geometry_named("torus")
    with pytest.raises(TypeError, match=r"field Identity declares no geometry"):
        Accelerated(torch.nn.Identity())
