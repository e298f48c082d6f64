"""Shipped data as token sequences: shapes, splits, train-only standardisation, no network."""

from __future__ import annotations

import socket

import pytest
import torch

from scenarios.train.datasets import digits, mnist1d, patches, standardised


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the data loaders must not touch the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_patches_are_the_windows_of_the_signal():
    signals = torch.arange(20.0).reshape(2, 10)
    tokens = patches(signals, 4, 3)
    assert tokens.shape == (2, 3, 4)
    for j in range(3):
        assert torch.equal(tokens[:, j], signals[:, 3 * j : 3 * j + 4])
    assert torch.equal(patches(signals, 1, 1)[..., 0], signals)
    with pytest.raises(ValueError, match="patch=11"):
        patches(signals, 11, 1)


def test_standardisation_uses_training_statistics_only():
    train, test = torch.tensor([1.0, 3.0, 5.0]), torch.tensor([3.0, 7.0])
    new_train, new_test = standardised(train, test)
    assert float(new_train.mean()) == 0 and float(new_train.std()) == pytest.approx(1.0)
    assert new_test.tolist() == pytest.approx([0.0, 2.0])


def test_mnist1d_split_tokens_and_reproducibility(no_network):
    import numpy as np

    state = np.random.get_state()[1].copy()
    data = mnist1d(samples=200, patch=8, stride=4)
    assert np.array_equal(np.random.get_state()[1], state)  # global random state restored
    assert data.x_train.shape == (160, 9, 8) and data.x_test.shape == (40, 9, 8)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.long
    assert data.classes == 10 and set(data.y_train.tolist()) <= set(range(10))
    signal = data.x_train[:, ::2].reshape(160, -1)  # tokens 0, 2, 4, 6, 8 tile the 40 steps
    assert float(signal.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(signal.std()) == pytest.approx(1.0, abs=1e-5)
    again = mnist1d(samples=200, patch=8, stride=4)
    assert torch.equal(again.x_test, data.x_test) and torch.equal(again.y_test, data.y_test)
    other = mnist1d(samples=200, patch=8, stride=4, seed=7)
    assert not torch.equal(other.x_train, data.x_train)
    steps = mnist1d(samples=200, dtype=torch.float64)
    assert steps.x_train.shape == (160, 40, 1) and steps.x_train.dtype == torch.float64


def test_digits_rows_split_and_seed(no_network):
    data = digits(test_fraction=0.25, seed=3)
    assert data.x_train.shape[1:] == (8, 8) and data.tokens == 8 and data.features == 8
    assert len(data.y_train) + len(data.y_test) == 1797 and len(data.y_test) == 449
    assert float(data.x_train.mean()) == pytest.approx(0.0, abs=1e-5)
    assert not torch.equal(digits(seed=4).y_test, digits(seed=3).y_test)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: mnist1d(train_fraction=1.0), "train_fraction=1"),
        (lambda: mnist1d(samples=5), "samples=5"),
        (lambda: digits(test_fraction=0.0), "test_fraction=0"),
        (lambda: digits(seed=-1), "seed=-1"),
    ],
)
def test_bad_arguments_are_refused(call, words):
    with pytest.raises(ValueError, match=words):
        call()


def test_a_missing_extra_is_named_with_its_install_command(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mnist1d.data", None)  # import of it raises ImportError
    with pytest.raises(RuntimeError, match=r"'mnist1d'.*pip install -e \"\.\[train\]\""):
        mnist1d(samples=40)
