"""The ``attnflow`` command: list scenarios, run one into an output directory, sweep one over a
grid of config values and seeds, and plot a sweep's table.

    attnflow list
    attnflow run NAME [--set KEY=VALUE ...] [--config FILE.toml] [--out DIR] [--seed N]
                      [--device cpu|cuda]
    attnflow run NAME --help        # the scenario's config fields, types, defaults, meanings
    attnflow sweep SCENARIO --grid KEY=V1,V2,... [--grid ...] [--seeds N] [--set KEY=VALUE ...]
                   [--backend local|dask] [--address tcp://HOST:PORT] [--workers K] [--out DIR]
    attnflow plot phase DIR --x KEY [--y KEY] --value NAME
    attnflow compare BEFORE AFTER [--rtol R]     # metrics.json of two runs, measurements left out

A sweep (``scenarios.harness.sweep``) appends each finished point to DIR/results.jsonl and
results.csv; an interrupted sweep exits with status 128 + the signal's number (130 for Ctrl-C) and
resumes when the same command is run again. SIGTERM and SIGHUP stop a run or a sweep as Ctrl-C
does.

A config the scenario cannot run (unknown key, wrong type, impossible value, unreadable TOML,
unavailable device) is refused before any work with one line on stderr,
``attnflow: error: ...``, and exit status 2; nothing is written. A run that fails later exits
with status 1 and also leaves nothing behind. ``python -m scenarios.harness.cli`` is the same
command.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from scenarios.harness.compare import compare_runs
from scenarios.harness.config import ConfigError, config_fields, resolve_config
from scenarios.harness.output import check_output_dir
from scenarios.harness.registry import all_scenarios, get_scenario
from scenarios.harness.runner import default_out_dir, run_scenario
from scenarios.harness.sweep import (
    JOURNAL_FILE,
    MAX_POINTS,
    SPEC_FILE,
    TABLE_FILE,
    default_sweep_dir,
    journal_spans,
    plan_sweep,
    run_sweep,
)
from scenarios.harness.sweep_backends import check_backend
from scenarios.harness.sweep_plots import plot_phase

PROG = "attnflow"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BROKEN_PIPE = 0, 1, 2, 128 + signal.SIGPIPE
TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_WIDTH = 100
RESULT_FILES = f"{SPEC_FILE}, {JOURNAL_FILE}, {TABLE_FILE}"


class UsageError(Exception):
    """A malformed command line (argparse's complaints), reported as one line."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise ``UsageError`` instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The ``attnflow`` argument parser (``list`` and ``run`` subcommands)."""
    parser = _Parser(
        prog=PROG,
        description="Transformers as interacting particle systems: run a scenario, get figures.",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    commands.add_parser("list", help="list the scenarios")
    run = commands.add_parser(
        "run",
        help="run a scenario (attnflow run NAME --help lists its config fields)",
        add_help=False,
        usage=f"{PROG} run NAME [--set KEY=VALUE ...] [--config FILE.toml] [--out DIR] "
        "[--seed N] [--device cpu|cuda]",
    )
    run.add_argument("name", metavar="NAME", nargs="?", help="scenario name (attnflow list)")
    run.add_argument("-h", "--help", action="store_true", help="show the config fields and exit")
    _add_set_argument(
        run, "set config fields (repeatable); tuples as comma lists, e.g. --set betas=1,4,9"
    )
    run.add_argument(
        "--config", metavar="FILE.toml", type=Path, help="read config fields from a TOML file"
    )
    run.add_argument("--out", metavar="DIR", type=Path, help="output directory (figures/NAME)")
    run.add_argument("--seed", metavar="N", type=int, help="random seed (overrides seed)")
    run.add_argument(
        "--device", metavar="cpu|cuda", help="torch device (overrides the field device)"
    )
    parser.run_parser = run  # type: ignore[attr-defined]
    _add_sweep_parser(commands)
    _add_plot_parser(commands)
    _add_compare_parser(commands)
    return parser


def _add_set_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--set KEY=VALUE ...``, repeatable, collected in ``assignments``."""
    parser.add_argument(
        "--set",
        dest="assignments",
        metavar="KEY=VALUE",
        action="extend",
        nargs="+",
        default=[],
        help=help,
    )


def _add_sweep_parser(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="run a scenario over a grid of config values and seeds (resumable)",
        usage=f"{PROG} sweep SCENARIO --grid KEY=V1,V2,... [--grid ...] [--seeds N] "
        "[--set KEY=VALUE ...] [--backend local|dask] [--address tcp://HOST:PORT] [--workers K] "
        "[--out DIR]",
        description="Every combination of the grid values is a point; the seeds of a point are "
        "solved as one batched solve. Each finished point is appended to DIR/results.jsonl and "
        "DIR/results.csv; rerunning the same command skips finished points.",
    )
    sweep.add_argument("name", metavar="SCENARIO", help="a scenario with sweep support")
    sweep.add_argument(
        "--grid",
        dest="grids",
        metavar="KEY=V1,V2,...",
        action="append",
        default=[],
        help="config values to sweep (repeatable: the points are the cartesian product); a "
        "tuple field takes one element per point, e.g. --grid betas=1,4,9; START:STOP:COUNT "
        "gives COUNT evenly spaced values, e.g. --grid betas=0.1:9:90; at most "
        f"{MAX_POINTS} points",
    )
    sweep.add_argument("--seeds", metavar="N", type=int, default=1, help="seeds per point (1)")
    _add_set_argument(
        sweep, "config fields shared by every point (repeatable); seed=S sets the first seed"
    )
    sweep.add_argument("--backend", metavar="local|dask", default="local", help="local (default)")
    sweep.add_argument(
        "--address", metavar="tcp://HOST:PORT", help="Dask scheduler (default: a LocalCluster)"
    )
    sweep.add_argument(
        "--workers", metavar="K", type=int, help="processes (default: one per CPU core)"
    )
    sweep.add_argument(
        "--out", metavar="DIR", type=Path, help="sweep directory (figures/sweeps/SCENARIO)"
    )


def _add_plot_parser(commands: argparse._SubParsersAction) -> None:
    plot = commands.add_parser(
        "plot",
        help="draw a sweep's table: a heat map over two keys, or lines with seed bands",
        usage=f"{PROG} plot phase DIR --x KEY [--y KEY] --value NAME",
        description="Writes DIR/phase_VALUE_X_Y.png/.pdf (a heat map of the mean over seeds) "
        "with --y, else DIR/line_VALUE_X.png/.pdf (the mean over seeds +- one standard error). "
        "NAME is a metric column, or COLUMN_prob for the fraction of seeds where a 0/1 column "
        "is 1. With --x t, NAME is a time series the points kept (e.g. single_cluster, "
        "pair_collision_fraction): a heat map over (t, Y) with --y, else lines against t.",
    )
    plot.add_argument("kind", metavar="phase", choices=("phase",), help="the kind of figure")
    plot.add_argument("directory", metavar="DIR", type=Path, help="a sweep directory")
    plot.add_argument(
        "--x", required=True, metavar="KEY", help="key column on the x axis, or t (time series)"
    )
    plot.add_argument("--y", metavar="KEY", help="key column on the y axis (a heat map)")
    plot.add_argument("--value", required=True, metavar="NAME", help="what to show")


def _add_compare_parser(commands: argparse._SubParsersAction) -> None:
    compare = commands.add_parser(
        "compare",
        help="compare two runs' metrics.json: same numbers to rounding, same keys and strings",
        usage=f"{PROG} compare BEFORE AFTER [--rtol R]",
        description="Prints one line per difference (its path in metrics.json, both values) and "
        "exits with 1 if there is any, 0 if none. Timings and memory sizes are left out.",
    )
    compare.add_argument("before", metavar="BEFORE", type=Path, help="a run directory")
    compare.add_argument("after", metavar="AFTER", type=Path, help="a run directory")
    compare.add_argument(
        "--rtol", metavar="R", type=float, default=1e-6, help="relative tolerance (1e-6)"
    )


def scenario_help(name: str) -> str:
    """``attnflow run NAME --help``: usage, the scenario's summary and its config fields."""
    scenario = get_scenario(name)
    lines = [
        f"usage: {PROG} run {name} [--set KEY=VALUE ...] [--config FILE.toml] [--out DIR] "
        "[--seed N] [--device cpu|cuda]",
        "",
        scenario.summary,
        "",
        "options:",
        "  --set KEY=VALUE ...  set config fields (repeatable); tuples as comma lists",
        "  --config FILE.toml   read config fields from a TOML file (top-level keys; --set wins)",
        f"  --out DIR            output directory (default: {default_out_dir(name)})",
        "  --seed N             random seed (overrides the field seed)",
        "  --device cpu|cuda    torch device (overrides the field device)",
        "",
        "config fields (set with --set KEY=VALUE or in the TOML file):",
    ]
    infos = config_fields(scenario.config)
    key_width = max(len("KEY"), *(len(info.name) for info in infos)) + 2
    type_width = max(len("TYPE"), *(len(info.type_name) for info in infos)) + 2
    default_width = max(len("DEFAULT"), *(len(info.default_text or '""') for info in infos)) + 2
    indent = 2 + key_width + type_width + default_width
    lines.append(
        "  "
        + "KEY".ljust(key_width)
        + "TYPE".ljust(type_width)
        + "DEFAULT".ljust(default_width)
        + "MEANING"
    )
    for info in infos:
        head = (
            "  "
            + info.name.ljust(key_width)
            + info.type_name.ljust(type_width)
            + (info.default_text or '""').ljust(default_width)
        )
        wrapped = textwrap.wrap(info.meaning, width=max(30, _WIDTH - indent)) or [""]
        lines.append(head + wrapped[0])
        lines.extend(" " * indent + rest for rest in wrapped[1:])
    lines += [
        "",
        f"Writes metrics.json, config.json and PNG + PDF figures to {default_out_dir(name)}/.",
    ]
    return "\n".join(lines)


def list_text() -> str:
    """``attnflow list``: one line per scenario with its summary."""
    known = all_scenarios()
    width = max(len(name) for name in known) + 2
    return "\n".join(name.ljust(width) + scenario.summary for name, scenario in known.items())


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, stopping the command the way Ctrl-C (SIGINT) does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupted_status(stop: KeyboardInterrupt) -> int:
    """128 + the signal's number: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + getattr(stop, "signum", signal.SIGINT)


@contextmanager
def termination_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into ``Interrupted`` inside the block, so that every clean-up
    that Ctrl-C runs (staging removed, journal kept) runs for them too."""

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = {number: signal.signal(number, interrupt) for number in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``attnflow``; returns the exit status (0, 1 failed run, 2 refused, 128 + N
    stopped by signal N)."""
    try:
        with termination_as_interrupt():
            return _main(list(sys.argv[1:] if argv is None else argv))
    except (ConfigError, UsageError) as error:
        _error(str(error))
        return EXIT_USAGE
    except SystemExit as done:  # argparse's own --help
        return done.code if isinstance(done.code, int) else EXIT_OK
    except KeyboardInterrupt as stop:
        _error("interrupted; nothing was written")
        return interrupted_status(stop)
    except BrokenPipeError:
        # The reader went away (``attnflow list | head``): stop quietly, and point stdout at
        # devnull so that the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        print(list_text())
        return EXIT_OK
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "plot":
        paths = plot_phase(args.directory, x=args.x, y=args.y, value=args.value)
        print(f"wrote {', '.join(str(path) for path in paths)}")
        return EXIT_OK
    if args.command == "compare":
        return _compare(args)
    if args.help:
        print(scenario_help(args.name) if args.name else _run_help(parser))
        return EXIT_OK
    if args.name is None:
        raise UsageError(f"run: missing the scenario NAME; available: {', '.join(all_scenarios())}")
    scenario = get_scenario(args.name)
    config = resolve_config(
        scenario.config,
        toml_path=args.config,
        assignments=args.assignments,
        overrides={"seed": args.seed, "device": args.device},
        scenario=args.name,
    )
    out_dir = args.out if args.out is not None else default_out_dir(args.name)
    check_output_dir(out_dir)
    start = time.perf_counter()
    try:
        metrics = run_scenario(args.name, config, out_dir)
    except ConfigError:
        raise
    except (ValueError, RuntimeError, OSError) as error:
        _error(f"scenario {args.name!r} failed: {error}; nothing was written")
        return EXIT_FAILED
    elapsed = time.perf_counter() - start
    print("\n".join(scenario.summary_lines(metrics)))
    print(f"wrote {out_dir}/ (metrics.json, config.json, figures) in {elapsed:.1f} s")
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    """``attnflow sweep``: plan (refusing bad input), then solve the missing points."""
    sweep = plan_sweep(args.name, args.grids, args.seeds, args.assignments)
    check_backend(args.backend, args.workers, args.address)
    out_dir = args.out if args.out is not None else default_sweep_dir(args.name)
    total = len(sweep.points)
    try:
        report = run_sweep(
            sweep, out_dir, backend=args.backend, workers=args.workers, address=args.address
        )
    except KeyboardInterrupt as stop:
        done = len(journal_spans(out_dir))
        _error(
            f"interrupted; {done} of {total} points are saved in {out_dir}/; "
            "rerun the same command to resume"
        )
        return interrupted_status(stop)
    except ConfigError:
        raise
    except (ValueError, RuntimeError, OSError) as error:
        done = len(journal_spans(out_dir))
        _error(
            f"sweep of {args.name!r} failed: {error}; {done} of {total} points are saved in "
            f"{out_dir}/"
        )
        return EXIT_FAILED
    print(
        f"{total} points x {len(sweep.seeds)} seeds: {report.solved} solved, "
        f"{report.already_done} already done; wrote {out_dir}/ ({RESULT_FILES}) "
        f"in {report.seconds:.1f} s"
    )
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    """``attnflow compare``: the differences between two runs' metrics, one per line."""
    if not (math.isfinite(args.rtol) and args.rtol >= 0):
        raise ConfigError(f"--rtol {args.rtol!r} is not accepted; expected a number >= 0")
    try:
        differences = compare_runs(args.before, args.after, rtol=args.rtol)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"cannot compare {str(args.before)!r} and {str(args.after)!r}: {error}"
        ) from None
    print("\n".join(differences) if differences else "same metrics")
    return EXIT_FAILED if differences else EXIT_OK


def _run_help(parser: argparse.ArgumentParser) -> str:
    run_parser = parser.run_parser  # type: ignore[attr-defined]
    return run_parser.format_help() + f"\nscenarios:\n{textwrap.indent(list_text(), '  ')}"


def _error(message: str) -> None:
    one_line = " ".join(message.split())
    print(f"{PROG}: error: {one_line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
