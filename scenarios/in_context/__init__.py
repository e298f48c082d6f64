"""In-context least squares by linear attention: excess error against depth and against time.

A prompt holds N context tokens z_j = (x_j, y_j) in R^{d+1} and Q query tokens (x_q, 0); the
linear-attention field of ``dynamics.gradient_step_attention(d, N, eta)`` makes one residual layer
z <- z + h f(z) one gradient-descent step of size eta h on L(w) = (1/2N) sum_j (w^T x_j - y_j)^2
from w = 0, read as the query prediction -z_q[-1] (von Oswald et al., "Transformers learn in-context
by gradient descent"); the continuous flow is gradient flow on L (``dynamics.in_context``).

``tasks`` independent regression tasks, x_j, x_q ~ N(0, I_d), w_true ~ N(0, I_d),
y = x^T w_true + noise * N(0, 1), are solved as one batch (prompts of shape (tasks, N + Q, d + 1);
the field is the same for every task). The reference is each task's ordinary least squares (OLS)
prediction (``torch.linalg.lstsq``), which every method converges to; the one-layer OLS
construction ``dynamics.least_squares_attention`` is checked against it (``ols_layer_error``).

Measured: the relative excess error

    E = mean_{tasks, queries} (prediction - OLS)^2 / mean (OLS)^2,

1 at depth 0 (prediction 0), for

- discrete layers, depth L = 1..max_layers (one field evaluation per layer, step ``step``):
  plain layers (Euler = gradient descent), and momentum layers on ``dynamics.Accelerated`` with
  heavy-ball (constant ``gamma``) or Nesterov (r / (t + t0)) friction, each stepped by the
  ``leapfrog`` and the ``nesterov_layer`` integrators from the state (tokens, 0);
- continuous time t in [0, T]: the gradient flow, the heavy-ball and the Nesterov flows (dopri5),
  and the closed form ``dynamics.gradient_flow_prediction`` of the gradient flow
  (``flow_closed_form_deviation`` is the largest |flow - closed form| over times, tasks, queries).

For each method ``metrics.json`` gives the final E and the first depth (or output time) where E
falls below ``target`` (null if never). Figures are drawn by ``scenarios.in_context.figures``.
"""

from scenarios.harness import Scenario
from scenarios.in_context.config import InContextConfig
from scenarios.in_context.figures import make_figures
from scenarios.in_context.simulation import (
    FLOW_METHODS,
    LAYER_METHODS,
    Results,
    closed_form_predictions,
    flow_predictions,
    layer_curve,
    metrics,
    momentum_field,
    output_times,
    simulate,
    summary_lines,
)
from scenarios.in_context.tasks import Tasks, make_tasks, ols_layer_error, relative_excess_error

SCENARIO = Scenario(
    name="in_context",
    summary=__doc__.splitlines()[0],
    config=InContextConfig,
    simulate=simulate,
    metrics=metrics,
    figures=make_figures,
    summary_lines=summary_lines,
    # The layers' largest kernel: Z M for every task, tokens x (d + 1)^2 entries each.
    work=lambda config: config.tasks * (config.n_context + config.n_queries) * (config.d + 1) ** 2,
)

__all__ = [
    "FLOW_METHODS",
    "LAYER_METHODS",
    "SCENARIO",
    "InContextConfig",
    "Results",
    "Tasks",
    "closed_form_predictions",
    "flow_predictions",
    "layer_curve",
    "make_figures",
    "make_tasks",
    "metrics",
    "momentum_field",
    "ols_layer_error",
    "output_times",
    "relative_excess_error",
    "simulate",
    "summary_lines",
]
