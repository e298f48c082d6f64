"""The harness every scenario runs in: config fields and their checks, the scenario declaration,
the registry, the runner with its staged output, sweeps, figure style, progress, threads and the
C allocator's policy."""

from scenarios.harness.allocator import keep_freed_memory
from scenarios.harness.checks import (
    Check,
    at_least,
    boolean,
    int_in,
    items,
    non_negative,
    one_of,
    positive,
    real_in,
    refuse,
    require,
    seed,
)
from scenarios.harness.config import (
    ConfigError,
    ScenarioConfig,
    config_fields,
    config_to_dict,
    param,
    resolve_config,
    threads_field,
)
from scenarios.harness.fields import (
    DTYPES,
    atol_field,
    check_step_size,
    cluster_tol_field,
    device_field,
    dtype_field,
    method_field,
    plateau_factor_field,
    query_key_field,
    redraw_period_field,
    rtol_field,
    step_size_field,
    value_field,
)
from scenarios.harness.output import staged_run, write_json
from scenarios.harness.progress_bars import progress
from scenarios.harness.registry import all_scenarios, get_scenario
from scenarios.harness.runner import default_out_dir, run_scenario
from scenarios.harness.scenario import PointResult, Scenario, SweepSpec
from scenarios.harness.style import FULL_WIDTH, figure_style, new_figure, save_figure

__all__ = [
    "DTYPES",
    "FULL_WIDTH",
    "Check",
    "ConfigError",
    "PointResult",
    "Scenario",
    "ScenarioConfig",
    "SweepSpec",
    "all_scenarios",
    "at_least",
    "atol_field",
    "boolean",
    "check_step_size",
    "cluster_tol_field",
    "config_fields",
    "config_to_dict",
    "default_out_dir",
    "device_field",
    "dtype_field",
    "figure_style",
    "get_scenario",
    "int_in",
    "items",
    "keep_freed_memory",
    "method_field",
    "new_figure",
    "non_negative",
    "one_of",
    "param",
    "plateau_factor_field",
    "positive",
    "progress",
    "query_key_field",
    "real_in",
    "redraw_period_field",
    "refuse",
    "require",
    "resolve_config",
    "rtol_field",
    "run_scenario",
    "save_figure",
    "seed",
    "staged_run",
    "step_size_field",
    "threads_field",
    "value_field",
    "write_json",
]
