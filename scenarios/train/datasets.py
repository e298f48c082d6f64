"""Classification data that ships with its packages (nothing is downloaded), as token sequences.

- MNIST-1D (Greydanus, "Scaling down deep learning"): 10 classes of 40-step 1-D signals generated
  procedurally by ``mnist1d.data.make_dataset`` (the default, 5000 samples split 4000 / 1000, is the
  published setting). The signal s_0..s_39 becomes tokens of ``patch`` consecutive values taken
  every ``stride`` steps: token j = (s_{j stride}, ..., s_{j stride + patch - 1}), so
  (40 - patch) / stride + 1 tokens (patch = stride = 1: one value per step).
- scikit-learn digits (``sklearn.datasets.load_digits``, bundled): 1797 8x8 images of 10 digits,
  as 8 tokens (the rows) of 8 pixels, split at random from ``seed``.

Standardisation: inputs are mapped to (u - mu) / sigma with mu and sigma the mean and standard
deviation of all training values (one scalar each; MNIST-1D signals before they are cut into
tokens), so the test set never informs them. (MNIST-1D
standardises with the whole data set; that affine map is undone exactly by this one.)

Both packages are the optional extra ``attnflow[train]`` and are imported on first use.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from dynamics import check_int, check_real, optional_module

MNIST1D_LENGTH = 40
"""Steps of an MNIST-1D signal."""


@dataclass(frozen=True)
class Dataset:
    """Standardised token sequences: inputs (samples, tokens, features), integer labels."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: int

    @property
    def tokens(self) -> int:
        return self.x_train.shape[1]

    @property
    def features(self) -> int:
        return self.x_train.shape[2]


def patches(signals: Tensor, patch: int, stride: int) -> Tensor:
    """Windows of ``patch`` values every ``stride`` steps: (samples, length) -> (samples,
    (length - patch) // stride + 1, patch)."""
    patch = check_int("patch", patch, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    if signals.ndim != 2 or patch > signals.shape[1]:
        raise ValueError(
            f"patch={patch} does not fit signals of shape {tuple(signals.shape)}; expected "
            "(samples, length) with patch <= length"
        )
    return signals.unfold(1, patch, stride)


def standardised(train: Tensor, test: Tensor) -> tuple[Tensor, Tensor]:
    """(u - mu) / sigma for both, with mu and sigma the mean and standard deviation of ``train``."""
    mean, std = train.mean(), train.std()
    return (train - mean) / std, (test - mean) / std


def mnist1d(
    *,
    samples: int = 5000,
    train_fraction: float = 0.8,
    seed: int = 42,
    patch: int = 1,
    stride: int = 1,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """MNIST-1D as token sequences (module docstring).

    Args:
        samples: signals generated (a multiple of 10 keeps the classes balanced).
        train_fraction: the first ``train_fraction * samples`` (shuffled) signals train.
        seed: the generator's seed (42 is the published data set).
        patch, stride: token windows (``patches``).
        dtype: floating dtype of the inputs.

    The generator seeds numpy's and Python's global random states; they are restored afterwards.
    """
    samples = check_int("samples", samples, minimum=20)
    train_fraction = check_real("train_fraction", train_fraction, minimum=0.0, strict=True)
    if train_fraction >= 1:
        raise ValueError(f"train_fraction={train_fraction:g} must be in (0, 1)")
    seed = check_int("seed", seed, minimum=0)
    data = optional_module("mnist1d.data", "MNIST-1D", "train")
    get_dataset_args, make_dataset = data.get_dataset_args, data.make_dataset

    args = get_dataset_args()
    args.num_samples, args.train_split, args.seed = samples, train_fraction, seed
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    x_train, x_test = standardised(
        torch.as_tensor(data["x"], dtype=dtype), torch.as_tensor(data["x_test"], dtype=dtype)
    )
    return Dataset(
        patches(x_train, patch, stride),
        torch.as_tensor(data["y"], dtype=torch.long),
        patches(x_test, patch, stride),
        torch.as_tensor(data["y_test"], dtype=torch.long),
        classes=10,
    )


def digits(
    *, test_fraction: float = 0.2, seed: int = 0, dtype: torch.dtype = torch.float32
) -> Dataset:
    """scikit-learn's digits as 8 row tokens of 8 pixels, split at random from ``seed``."""
    test_fraction = check_real("test_fraction", test_fraction, minimum=0.0, strict=True)
    if test_fraction >= 1:
        raise ValueError(f"test_fraction={test_fraction:g} must be in (0, 1)")
    seed = check_int("seed", seed, minimum=0)
    bunch = optional_module("sklearn.datasets", "the digits data", "train").load_digits()
    images = torch.as_tensor(bunch.images, dtype=dtype)
    labels = torch.as_tensor(bunch.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    test = max(1, round(test_fraction * len(labels)))
    train_index, test_index = order[test:], order[:test]
    x_train, x_test = standardised(images[train_index], images[test_index])
    return Dataset(x_train, labels[train_index], x_test, labels[test_index], classes=10)
