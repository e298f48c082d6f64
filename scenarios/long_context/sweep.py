"""Sweeps of the long_context scenario (``attnflow sweep long_context``, see
``scenarios.harness.sweep``): for every n of a point, the clouds of all its seeds solved as one
batch at each beta = gamma log n (``evolve``), and one row per (n, gamma, rule, seed) with the
``OBSERVABLES`` at T; ``rule`` is "gamma" for the grid of ``gammas`` and "scalable_softmax" for
gamma = s. The bootstrap of gamma_c and the S^1 comparison are left to ``attnflow run
long_context``; a sweep over d or rho locates gamma_c's dependence on them from these rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from scenarios.harness import SweepSpec
from scenarios.harness.scenario import Row
from scenarios.long_context.config import LongContextConfig
from scenarios.long_context.simulation import OBSERVABLES, evolve, initial_clouds


def sweep_point(config: LongContextConfig, seeds: Sequence[int]) -> list[Row]:
    """One row per (n, gamma, rule, seed); the cloud of seed s is the first cloud of
    ``initial_clouds`` with ``seed = s``, so a seed's rows do not depend on the other seeds."""
    rules = [("gamma", gamma) for gamma in config.gammas]
    rules.append(("scalable_softmax", config.scalable_softmax_s))
    rows: list[Row] = []
    for n in config.ns:
        x0 = torch.cat([initial_clouds(replace(config, seed=seed), n)[:1] for seed in seeds])
        for rule, gamma in rules:
            _, at_end = evolve(config, n, gamma, x0)
            values = {name: at_end[name].double().cpu().tolist() for name in OBSERVABLES}
            for k, seed in enumerate(seeds):
                row: Row = {"seed": seed, "n": n, "gamma": float(gamma), "rule": rule}
                row.update({name: values[name][k] for name in OBSERVABLES})
                rows.append(row)
    return rows


SWEEP = SweepSpec(point=sweep_point, keys=("n", "gamma", "rule"), defaults={"figures": False})
"""Row keys name the run within a point; a sweep draws no figures."""
