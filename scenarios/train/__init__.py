"""Train the discrete transformer, the ODE transformer and the OT-regularised ODE transformer.

Data: MNIST-1D (``scenarios.train.datasets.mnist1d``, default 4000 / 1000 split), each 40-step
signal cut into tokens of ``patch`` values every ``stride`` steps. Models (``dynamics.models``),
all of width ``d`` with ``heads`` heads and MLP width ``hidden``:

- ``discrete``: the standard ``layers``-layer residual pre-norm transformer (independent blocks,
  residual step 1);
- ``ode_lambda_<lambda>`` for each lambda of ``lambdas``: the ODE transformer on [0, T] solved by
  ``method`` (fixed-step methods take ``steps`` steps of T / steps; adaptive ones use rtol, atol),
  with an autonomous block or, with ``time_basis``, weights W(t) = sum_{k < basis_size} c_k
  phi_k(t); trained on cross-entropy + lambda K, with K = int_0^T (1/n) sum_i |f_i(t, x(t))|^2 dt
  the kinetic energy carried by the solver (Kan, Li, Osher, "OT-Transformer: a continuous-time
  transformer architecture with optimal transport regularization"). lambda = 0 is the plain ODE
  transformer;
- ``ode_<momentum>`` for each momentum flow of ``momenta`` (``heavy_ball``, ``hamiltonian``; the
  SympFormer flows of Stein, Li, Steidl, "SympFormer: accelerated attention blocks via inertial
  dynamics on density manifolds", ``dynamics.models``): the same classifier with velocity or
  momentum 0 at t = 0 and friction ``friction``, heavy ball x' = v, v' = f(x) - gamma v around
  the block f, Hamiltonian attention x' = dH/dp, p' = -dH/dx + MLP(LN x) - gamma p
  (``dynamics.hamiltonian_block``), each trained on cross-entropy alone and solved by its stepper
  of ``MOMENTUM_METHODS`` with as many steps as give the same field evaluations per forward pass
  as the ODE transformer's ``steps`` steps of ``method`` (evaluations per step from
  ``solvers.METHODS``: with 4 Euler steps, 4 symplectic Euler steps for heavy ball and 2
  presymplectic Euler steps, 2 evaluations each, for the Hamiltonian flow).

Training: AdamW (learning rate ``lr``, ``weight_decay``), batches of ``batch_size`` in an order
drawn from (``seed``, epoch), learning rate warmed up linearly over the first 5% of steps and then
decayed to 0 along a cosine; every model starts from weights drawn from ``seed``.

Measured per model (``metrics.json``, ``models``): final test accuracy, parameter count, field
evaluations per forward pass (``nfe``; layers for the discrete model), training wall time (seconds,
excluding the per-epoch evaluation), mean kinetic energy K over the test set (for the discrete
model its Euler value sum_l (1/n) sum_i |f_l(x_l)_i|^2; none for the momentum flows), and the mean
straightness of the test tokens' paths, |x_i(T) - x_i(0)| / (length of the path through the output
states), 1 for a straight path (states at the solver's steps for fixed-step methods, at
``num_times`` times for adaptive ones, after each layer for the discrete model); the ODE models
also record their ``momentum`` and solver ``method``. Learning curves (train loss, test
accuracy per epoch) are kept in ``history``. ``best_lambda`` is the largest lambda > 0 whose test
accuracy is within 1 point of lambda = 0's, else the most accurate lambda > 0.

Checkpoints: ``checkpoints/<model>.pt`` holds ``torch.save`` of a dict of state dicts (model,
optimizer, scheduler), the epoch, the history and the config; it is read back with
``torch.load(..., weights_only=True)``. With ``resume=DIR`` (a previous run's output directory)
every model with a checkpoint there continues from it up to ``epochs`` epochs (the checkpoint's
config must agree in every field but ``epochs``, ``resume``, ``figures`` and ``device``; the cosine
schedule follows the new ``epochs``). Figures are drawn by ``scenarios.train.figures``.
"""

from scenarios.harness import Scenario
from scenarios.train.config import MOMENTUM_METHODS, TrainConfig
from scenarios.train.datasets import Dataset, digits, mnist1d
from scenarios.train.figures import make_figures
from scenarios.train.simulation import (
    TrainResult,
    best_lambda,
    measure,
    metrics,
    paths,
    simulate,
    straightness,
    summary_lines,
)
from scenarios.train.training import (
    Trained,
    build_model,
    load_data,
    lr_factor,
    model_names,
    read_checkpoint,
    train_model,
)

SCENARIO = Scenario(
    name="train",
    summary=__doc__.splitlines()[0],
    config=TrainConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    work=lambda config: config.batch_size * config.tokens * (config.hidden or 4 * config.d),
    keeps_files=True,
)

__all__ = [
    "MOMENTUM_METHODS",
    "SCENARIO",
    "Dataset",
    "TrainConfig",
    "TrainResult",
    "Trained",
    "best_lambda",
    "build_model",
    "digits",
    "load_data",
    "lr_factor",
    "make_figures",
    "measure",
    "metrics",
    "mnist1d",
    "model_names",
    "paths",
    "read_checkpoint",
    "simulate",
    "straightness",
    "summary_lines",
    "train_model",
]
