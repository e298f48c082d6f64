"""Config fields that most scenarios share, declared and checked in one place.

Each ``*_field`` function returns a fresh ``dataclasses.field`` (a field object cannot be shared
between classes); ``check_shared_fields`` checks whichever of these fields a config has.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from scenarios.threads import SMALL_WORK
from scenarios.validation import check_device, is_int, is_real, require

FIGURES_HELP = "write the figures (false: only metrics.json and config.json)"


def figures_field(help: str = FIGURES_HELP) -> Any:
    """``figures: bool``, true by default."""
    return field(default=True, metadata={"help": help})


def device_field() -> Any:
    """``device: str``, "cpu" by default."""
    return field(default="cpu", metadata={"help": "torch device: cpu, cuda or cuda:N"})


def threads_field(work: str) -> Any:
    """``threads: int``, 0 (automatic) by default; ``work`` names the kernel whose size decides."""
    return field(
        default=0,
        metadata={
            "help": f"CPU threads for torch during the run; 0: one thread when {work} has at "
            f"most {SMALL_WORK} entries, torch's default otherwise"
        },
    )


def cluster_tol_field() -> Any:
    """``cluster_tol: float``, 1e-2 by default."""
    return field(
        default=1e-2,
        metadata={"help": "tokens with cosine above 1 - cluster_tol share a cluster (> 0)"},
    )


def check_shared_fields(config: object) -> None:
    """Raise ValueError naming the first impossible value among the config's shared fields:
    cluster_tol, rtol, atol, figures, device, threads (those it has)."""
    if hasattr(config, "cluster_tol"):
        value = config.cluster_tol
        require(is_real(value) and 0 < value <= 2, "cluster_tol", value, "a number in (0, 2]")
    for name in ("rtol", "atol"):
        if hasattr(config, name):
            value = getattr(config, name)
            require(is_real(value) and value > 0, name, value, "a number > 0")
    if hasattr(config, "figures"):
        require(isinstance(config.figures, bool), "figures", config.figures, "true or false")
    if hasattr(config, "device"):
        check_device(config.device)
    if hasattr(config, "threads"):
        value = config.threads
        require(is_int(value) and value >= 0, "threads", value, "an integer >= 0 (0: automatic)")
