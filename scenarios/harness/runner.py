"""Running a scenario into an output directory: all files or none.

``run_scenario`` is the one loop every scenario runs through: seed torch, pick the thread count,
simulate, draw and save the figures, and write ``metrics.json`` (the scenario's numbers inside the
envelope: scenario, parameters, figures, wall time) and ``config.json``, all staged beside
``out_dir`` and moved in only once everything has been written (``scenarios.harness.output``).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from scenarios.harness.config import config_to_dict
from scenarios.harness.memory import check_memory
from scenarios.harness.output import staged_run, write_json
from scenarios.harness.registry import get_scenario
from scenarios.harness.style import save_figures
from solvers.threads import thread_count, torch_threads

METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.json"


def default_out_dir(name: str) -> Path:
    """``figures/NAME``, relative to the current directory."""
    return Path("figures") / name


def run_scenario(name: str, config: object, out_dir: Path | None = None) -> dict[str, object]:
    """Run scenario ``name`` with ``config`` and write its files into ``out_dir``.

    Returns the metrics dict (also written to ``metrics.json``; the config goes to
    ``config.json``). Raises ConfigError before any work when the scenario's memory estimate
    exceeds the budget or ``out_dir`` cannot hold a run. If anything fails, the previous content
    of ``out_dir`` is left as it was and nothing beside it.
    """
    scenario = get_scenario(name)
    if not isinstance(config, scenario.config):
        raise TypeError(
            f"config must be a {scenario.config.__name__} for scenario {name!r}, "
            f"got {type(config).__name__}"
        )
    out_dir = default_out_dir(name) if out_dir is None else Path(out_dir)
    if scenario.memory is not None:
        check_memory(f"scenario {name!r} with these settings", scenario.memory(config))
    if scenario.work is not None:
        threads = thread_count(config.threads, scenario.work(config))
    else:
        threads = config.threads or None
    with staged_run(out_dir) as staging, torch_threads(threads):
        torch.manual_seed(config.seed)
        clock = time.perf_counter()
        if scenario.keeps_files:
            result = scenario.simulate(config, staging)
        else:
            result = scenario.simulate(config)
        simulated = time.perf_counter()
        figures = scenario.figures(config, result) if config.figures else {}
        save_figures(figures, staging, f"{name} figures")
        drawn = time.perf_counter()
        metrics = {
            "scenario": name,
            "parameters": config_to_dict(config),
            **scenario.metrics(config, result),
            "figures": sorted(figures),
            "wall_time_s": {"simulate": simulated - clock, "figures": drawn - simulated},
        }
        write_json(staging / CONFIG_FILE, config_to_dict(config))
        write_json(staging / METRICS_FILE, metrics)
    return metrics
