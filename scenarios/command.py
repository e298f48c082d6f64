"""The ``attnflow`` console entry point: the command is imported only once Ctrl-C is handled, so
an interrupt while torch and matplotlib load is one line, not a traceback."""

from __future__ import annotations

import sys

INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT)."""


def main() -> int:
    """Import and run ``scenarios.harness.cli.main``; exit 130 quietly if interrupted first."""
    try:
        from scenarios.harness.cli import main as run_command
    except KeyboardInterrupt:
        print("attnflow: error: interrupted while starting; nothing was written", file=sys.stderr)
        return INTERRUPTED
    return run_command()


if __name__ == "__main__":
    sys.exit(main())
