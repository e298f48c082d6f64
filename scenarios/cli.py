"""The ``attnflow`` command: list scenarios and run one into an output directory.

    attnflow list
    attnflow run NAME [--set KEY=VALUE ...] [--config FILE.toml] [--out DIR] [--seed N]
                      [--device cpu|cuda]
    attnflow run NAME --help        # the scenario's config fields, types, defaults, meanings

A config the scenario cannot run (unknown key, wrong type, impossible value, unreadable TOML,
unavailable device) is refused before any work with one line on stderr,
``attnflow: error: ...``, and exit status 2; nothing is written. A run that fails later exits
with status 1 and also leaves nothing behind. ``python -m scenarios.cli`` is the same command.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from scenarios.config import ConfigError, config_fields, resolve_config
from scenarios.registry import SCENARIOS, get_scenario, summary
from scenarios.runner import default_out_dir, run_scenario

PROG = "attnflow"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_WIDTH = 100


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
    run.add_argument(
        "--set",
        dest="assignments",
        metavar="KEY=VALUE",
        action="extend",
        nargs="+",
        default=[],
        help="set config fields (repeatable); tuples as comma lists, e.g. --set betas=1,4,9",
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
    return parser


def scenario_help(name: str) -> str:
    """``attnflow run NAME --help``: usage, the scenario's summary and its config fields."""
    scenario = get_scenario(name)
    lines = [
        f"usage: {PROG} run {name} [--set KEY=VALUE ...] [--config FILE.toml] [--out DIR] "
        "[--seed N] [--device cpu|cuda]",
        "",
        summary(name),
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
    infos = config_fields(scenario.Config)
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
        wrapped = textwrap.wrap(info.help, width=max(30, _WIDTH - indent)) or [""]
        lines.append(head + wrapped[0])
        lines.extend(" " * indent + rest for rest in wrapped[1:])
    lines += [
        "",
        f"Writes metrics.json, config.json and PNG + PDF figures to {default_out_dir(name)}/.",
    ]
    return "\n".join(lines)


def list_text() -> str:
    """``attnflow list``: one line per scenario with its summary."""
    width = max(len(name) for name in SCENARIOS) + 2
    return "\n".join(name.ljust(width) + summary(name) for name in SCENARIOS)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``attnflow``; returns the exit status (0, 1 failed run, 2 refused)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except (ConfigError, UsageError) as error:
        _error(str(error))
        return EXIT_USAGE
    except SystemExit as done:  # argparse's own --help
        return done.code if isinstance(done.code, int) else EXIT_OK
    except KeyboardInterrupt:
        _error("interrupted; nothing was written")
        return EXIT_INTERRUPTED


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        print(list_text())
        return EXIT_OK
    if args.help:
        print(scenario_help(args.name) if args.name else _run_help(parser))
        return EXIT_OK
    if args.name is None:
        raise UsageError(f"run: missing the scenario NAME; available: {', '.join(SCENARIOS)}")
    scenario = get_scenario(args.name)
    config = resolve_config(
        scenario.Config,
        toml_path=args.config,
        assignments=args.assignments,
        overrides={"seed": args.seed, "device": args.device},
        scenario=args.name,
    )
    out_dir = args.out if args.out is not None else default_out_dir(args.name)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {str(out_dir)!r} exists and is not a directory")
    start = time.perf_counter()
    try:
        metrics = run_scenario(args.name, config, out_dir)
    except (ValueError, RuntimeError, OSError) as error:
        _error(f"scenario {args.name!r} failed: {error}; nothing was written")
        return EXIT_FAILED
    elapsed = time.perf_counter() - start
    summarize = getattr(scenario, "summary_lines", None)
    if summarize is not None:
        print("\n".join(summarize(metrics)))
    print(f"wrote {out_dir}/ (metrics.json, config.json, figures) in {elapsed:.1f} s")
    return EXIT_OK


def _run_help(parser: argparse.ArgumentParser) -> str:
    run_parser = parser.run_parser  # type: ignore[attr-defined]
    return run_parser.format_help() + f"\nscenarios:\n{textwrap.indent(list_text(), '  ')}"


def _error(message: str) -> None:
    one_line = " ".join(message.split())
    print(f"{PROG}: error: {one_line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
