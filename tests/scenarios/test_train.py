"""The train scenario end to end on a tiny config: files, metrics, checkpoints and resuming."""

from __future__ import annotations

import itertools
import math
import shutil

import pytest
import torch

from scenarios import train
from scenarios.harness import ConfigError
from scenarios.harness.cli import main
from scenarios.harness.runner import run_scenario
from scenarios.train import (
    TrainConfig,
    best_lambda,
    build_model,
    load_data,
    lr_factor,
    model_names,
    simulate,
    straightness,
    train_model,
)
from tests.scenarios.helpers import assert_metrics_written, assert_refused

TINY = {
    "samples": 100,
    "d": 8,
    "heads": 2,
    "layers": 2,
    "steps": 2,
    "lambdas": (0.0, 0.5),
    "epochs": 2,
    "batch_size": 40,
}
"""Three small models (discrete, lambda = 0, lambda = 0.5), two epochs on 80 signals."""

TINY_SET = [f"{key}={','.join(map(str, value)) if isinstance(value, tuple) else value}"
            for key, value in TINY.items()] + ["figures=false"]  # fmt: skip
"""``TINY`` as ``--set`` arguments."""

STEMS = ("learning_curves", "accuracy_vs_lambda", "trajectories")
NAMES = ("discrete", "ode_lambda_0", "ode_lambda_0.5")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "train"
    config = TrainConfig(**TINY)
    return out, config, run_scenario("train", config, out)


def test_run_writes_metrics_config_figures_and_checkpoints(tiny_run):
    out, config, metrics = tiny_run
    expected = {"metrics.json", "config.json", "checkpoints"}
    expected |= {f"{stem}.{extension}" for stem in STEMS for extension in ("png", "pdf")}
    assert {path.name for path in out.iterdir()} == expected
    assert sorted(metrics["figures"]) == sorted(STEMS)
    assert metrics["checkpoints"] == sorted(f"checkpoints/{name}.pt" for name in NAMES)
    assert {path.name for path in (out / "checkpoints").iterdir()} == {f"{n}.pt" for n in NAMES}
    for stem in STEMS:
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_metrics_written(out, config, metrics)


def test_metrics_are_sane(tiny_run):
    _, config, metrics = tiny_run
    models = metrics["models"]
    assert list(models) == list(NAMES) == model_names(config)
    d, hidden, n, f = 8, 32, metrics["data"]["tokens"], metrics["data"]["features"]
    block = 4 * d * d + 4 * d + 2 * d * hidden + hidden + d + 4 * d
    shared = f * d + d + n * d + 2 * d + 10 * d + 10
    assert models["discrete"]["parameter_count"] == config.layers * block + shared
    assert models["ode_lambda_0"]["parameter_count"] == block + shared
    assert metrics["data"] == {"train": 80, "test": 20, "tokens": 9, "features": 8}
    for name, entry in models.items():
        assert entry["nfe"] == 2, name  # two layers; two Euler steps
        assert 0 <= entry["test_accuracy"] <= 1 and entry["epochs_run"] == 2
        assert 0 < entry["straightness"] <= 1 + 1e-6 and entry["kinetic_energy"] > 0
        assert entry["wall_time_s"] > 0 and math.isfinite(entry["final_train_loss"])
        assert len(metrics["history"][name]["test_accuracy"]) == 2
    assert metrics["best_lambda"] == 0.5
    assert len(train.summary_lines(metrics)) == 3


def test_checkpoints_reproduce_the_predictions_bit_for_bit(tmp_path):
    config = TrainConfig(**TINY)
    result = simulate(config, tmp_path)
    data = result.data
    for entry in result.trained:
        model = build_model(config, entry.name, data)
        state = torch.load(tmp_path / "checkpoints" / f"{entry.name}.pt", weights_only=True)
        model.load_state_dict(state["model"])
        entry.model.eval()
        model.eval()
        with torch.no_grad():
            assert torch.equal(model(data.x_test), entry.model(data.x_test)), entry.name


def test_training_reduces_the_loss(tmp_path):
    options = {"samples": 200, "epochs": 6, "batch_size": 20, "lr": 1e-2, "lambdas": (0.0,)}
    config = TrainConfig(**{**TINY, **options})
    for entry in simulate(config, tmp_path).trained:
        losses = entry.history["train_loss"]
        # falls every epoch, to well below log 10, the loss of a uniform guess over 10 classes
        assert all(b < a for a, b in itertools.pairwise(losses)), (entry.name, losses)
        assert losses[-1] < 0.9 * math.log(10), (entry.name, losses)


def test_resume_continues_from_the_checkpoints(tiny_run, tmp_path):
    out, _, metrics = tiny_run
    same = run_scenario(
        "train", TrainConfig(**TINY, resume=str(out), figures=False), tmp_path / "same"
    )
    for name in NAMES:
        assert same["models"][name]["epochs_run"] == 0
        assert same["models"][name]["test_accuracy"] == metrics["models"][name]["test_accuracy"]
        assert same["history"][name] == metrics["history"][name]
    longer = run_scenario(
        "train",
        TrainConfig(**{**TINY, "epochs": 3}, resume=str(out), figures=False),
        tmp_path / "longer",
    )
    for name in NAMES:
        assert longer["models"][name]["epochs_run"] == 1
        history = longer["history"][name]["train_loss"]
        assert len(history) == 3 and history[:2] == metrics["history"][name]["train_loss"]


def test_resume_refuses_a_checkpoint_of_another_model(tiny_run, tmp_path):
    out, _, _ = tiny_run
    config = TrainConfig(**{**TINY, "d": 4}, resume=str(out), figures=False)
    with pytest.raises(ValueError, match=r"d=8"):
        run_scenario("train", config, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def _damaged_checkpoints(out, tmp_path):
    """Copies of a finished run whose ode_lambda_0 checkpoint is damaged in each way."""
    good = (out / "checkpoints" / "ode_lambda_0.pt").read_bytes()
    saved = torch.load(out / "checkpoints" / "ode_lambda_0.pt", weights_only=True)
    nan_weights = {**saved, "model": {k: v * float("nan") for k, v in saved["model"].items()}}
    cases = {
        "random bytes": bytes(range(256)) * 8,
        "empty": b"",
        "text": b"not a checkpoint\n" * 20,
        "truncated": good[: len(good) // 2],
        "no config": {k: v for k, v in saved.items() if k != "config"},
        "NaN weights": nan_weights,
    }
    for case, content in cases.items():
        run = tmp_path / case.replace(" ", "_")
        shutil.copytree(out, run)
        target = run / "checkpoints" / "ode_lambda_0.pt"
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            torch.save(content, target)
        yield case, run


def test_a_damaged_checkpoint_is_one_line_naming_the_file(tiny_run, tmp_path, capsys):
    out, _, _ = tiny_run
    for case, run in _damaged_checkpoints(out, tmp_path):
        args = ["run", "train", "--set", *TINY_SET, f"resume={run}", "--out", str(tmp_path / "o")]
        assert main(args) == 2, case
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1, (case, err)
        assert "ode_lambda_0.pt" in err and "weights_only" not in err, (case, err)
        assert not (tmp_path / "o").exists()


def test_resume_refuses_a_directory_without_checkpoints_and_fewer_epochs(tiny_run, tmp_path):
    out, _, _ = tiny_run
    (tmp_path / "empty").mkdir()
    config = TrainConfig(**TINY, resume=str(tmp_path / "empty"), figures=False)
    with pytest.raises(ConfigError, match="holds no checkpoint"):
        run_scenario("train", config, tmp_path / "o")
    config = TrainConfig(**{**TINY, "epochs": 1}, resume=str(out), figures=False)
    with pytest.raises(ConfigError, match=r"epochs=1 is not accepted.*already ran 2 epochs"):
        run_scenario("train", config, tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_diverged_training_names_the_model_epoch_and_loss(tmp_path, capsys):
    args = ["run", "train", "--set", *TINY_SET, "lr=1e30", "--out", str(tmp_path / "o")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "diverged in epoch 1" in err and "lower lr" in err and "x0" not in err


def test_straightness_closed_forms():
    line = torch.linspace(0, 1, 5)[:, None, None] * torch.tensor([[3.0, 4.0]])
    assert float(straightness(line)) == pytest.approx(1.0)
    corner = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 1.0]]])
    assert float(straightness(corner)) == pytest.approx(math.sqrt(2) / 2)
    back = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[0.0, 0.0]]])
    assert float(straightness(back)) == 0.0
    with pytest.raises(ValueError, match="times >= 2"):
        straightness(line[:1])


def test_best_lambda_rule():
    assert best_lambda({0.0: 0.90, 0.1: 0.895, 1.0: 0.85}) == 0.1
    assert best_lambda({0.0: 0.90, 0.1: 0.80, 1.0: 0.85}) == 1.0
    assert best_lambda({0.0: 0.90}) is None


def test_learning_rate_schedule():
    total = 200  # warmup over 10 steps
    assert lr_factor(0, total) == pytest.approx(0.1)
    assert lr_factor(9, total) == pytest.approx(1.0)
    assert lr_factor(10 + 95, total) == pytest.approx(0.5)
    assert lr_factor(total, total) == pytest.approx(0.0)


def test_data_follows_the_config():
    data = load_data(TrainConfig(samples=50, patch=5, stride=5))
    assert data.x_train.shape == (40, 8, 5)


@pytest.mark.parametrize(
    ("setting", "name"),
    [
        (["d=10"], "d"),
        (["lambdas=0,0"], "lambdas"),
        (["method=projected_euler"], "method"),
        (["basis_size=3"], "basis_size"),
        (["patch=41"], "patch"),
        (["resume=/nonexistent/run"], "resume"),
        (["momenta=nesterov"], "momenta"),
        (["momenta=heavy_ball,heavy_ball"], "momenta"),
        (["momenta=hamiltonian", "steps=3"], "steps"),
        (["momenta=heavy_ball", "method=dopri5"], "method"),
        (["momenta=hamiltonian", "time_basis=cosine"], "momenta"),
        (["friction=-1"], "friction"),
    ],
)
def test_impossible_values_are_refused_and_nothing_written(tmp_path, capsys, setting, name):
    assert_refused("train", setting, name, tmp_path, capsys)


MOMENTA = {**TINY, "lambdas": (0.0,), "momenta": ("heavy_ball", "hamiltonian"), "epochs": 1}
"""The tiny run with both momentum flows: two Euler steps, so two symplectic Euler steps (heavy
ball) and one presymplectic Euler step of two evaluations (Hamiltonian)."""


def test_momentum_flows_run_at_equal_field_evaluations(tmp_path):
    config = TrainConfig(**MOMENTA)
    out = tmp_path / "train"
    metrics = run_scenario("train", config, out)
    names = ["discrete", "ode_lambda_0", "ode_heavy_ball", "ode_hamiltonian"]
    assert list(metrics["models"]) == names == model_names(config)
    assert (out / "momentum_comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "momentum_comparison" in metrics["figures"]
    assert_metrics_written(out, config, metrics)
    models = metrics["models"]
    assert [models[name]["nfe"] for name in names] == [2, 2, 2, 2]
    assert [models[name]["momentum"] for name in names] == [None, "none", *config.momenta]
    assert [models[name]["method"] for name in names] == [
        None,
        "euler",
        "symplectic_euler",
        "presymplectic_euler",
    ]
    assert models["ode_heavy_ball"]["parameter_count"] == models["ode_lambda_0"]["parameter_count"]
    d, hidden = 8, 32  # Hamiltonian block: Q, K, L, two LayerNorms, MLP; the same shared part
    plain_block = 4 * d * d + 4 * d + 2 * d * hidden + hidden + d + 4 * d
    hamiltonian_block = 3 * d * d + 4 * d + 2 * d * hidden + hidden + d
    assert (
        models["ode_lambda_0"]["parameter_count"] - models["ode_hamiltonian"]["parameter_count"]
        == plain_block - hamiltonian_block
    )
    for name in ("ode_heavy_ball", "ode_hamiltonian"):
        assert models[name]["kinetic_energy"] is None and models[name]["lambda"] is None
        assert 0 < models[name]["straightness"] <= 1 + 1e-6
    assert len(train.summary_lines(metrics)) == 4


@pytest.mark.parametrize("name", ["ode_heavy_ball", "ode_hamiltonian"])
def test_momentum_training_reduces_the_loss(tmp_path, name):
    options = {"samples": 200, "epochs": 6, "batch_size": 20, "lr": 1e-2}
    config = TrainConfig(**{**MOMENTA, **options})
    trained = train_model(config, name, load_data(config), tmp_path)
    losses = trained.history["train_loss"]
    assert all(b < a for a, b in itertools.pairwise(losses)), losses
    assert losses[-1] < 0.9 * math.log(10), losses
