"""The table of scenarios the command knows: name -> module.

A scenario module exports ``Config`` (a ``@dataclass`` with a ``validate()`` method raising
``ValueError``) and ``run(config, out_dir: Path) -> dict``, which writes its figures into
``out_dir`` and returns the metrics; its docstring's first line describes it in ``attnflow list``.
"""

from __future__ import annotations

from types import ModuleType

from scenarios import (
    acceleration,
    clustering,
    in_context,
    layers,
    lora,
    mean_field,
    metastability,
    phase_diagram,
    pretrained,
    sympformer,
    train,
)
from scenarios.config import ConfigError, did_you_mean

SCENARIOS: dict[str, ModuleType] = {
    "clustering": clustering,
    "in_context": in_context,
    "acceleration": acceleration,
    "train": train,
    "lora": lora,
    "phase_diagram": phase_diagram,
    "mean_field": mean_field,
    "metastability": metastability,
    "layers": layers,
    "sympformer": sympformer,
    "pretrained": pretrained,
}


def get_scenario(name: str) -> ModuleType:
    """The scenario module called ``name``, or ConfigError naming the known ones."""
    if name not in SCENARIOS:
        raise ConfigError(
            f"unknown scenario {name!r}{did_you_mean(name, list(SCENARIOS))}; "
            f"available: {', '.join(SCENARIOS)}"
        )
    return SCENARIOS[name]


def summary(name: str) -> str:
    """The first line of the scenario module's docstring."""
    doc = (get_scenario(name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
