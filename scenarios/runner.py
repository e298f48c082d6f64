"""Running a scenario into an output directory: all files or none.

``run_scenario`` stages the scenario's figures, ``metrics.json`` and ``config.json`` in a temporary
directory beside ``out_dir`` and moves them in only once everything has been written (see
``scenarios.output.staged_output``).
"""

from __future__ import annotations

from pathlib import Path

from scenarios.config import config_to_dict
from scenarios.output import staged_output, write_json
from scenarios.registry import get_scenario

METRICS_FILE = "metrics.json"
CONFIG_FILE = "config.json"


def default_out_dir(name: str) -> Path:
    """``figures/NAME``, relative to the current directory."""
    return Path("figures") / name


def run_scenario(name: str, config: object, out_dir: Path | None = None) -> dict[str, object]:
    """Run scenario ``name`` with a validated ``config`` and write its files into ``out_dir``.

    Returns the metrics dict (also written to ``metrics.json``; the config goes to
    ``config.json``). If anything fails, nothing is left in or beside ``out_dir``.
    """
    scenario = get_scenario(name)
    out_dir = default_out_dir(name) if out_dir is None else Path(out_dir)
    with staged_output(out_dir) as staging:
        metrics = scenario.run(config, staging)
        write_json(staging / CONFIG_FILE, config_to_dict(config))
        write_json(staging / METRICS_FILE, metrics)
    return metrics
