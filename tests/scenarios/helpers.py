"""Tiny configs shared by the scenario tests: small enough to run in about a second."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

TINY = {"n": 8, "T": 2.0, "betas": (0.5, 2.0), "num_times": 21}
"""A tiny clustering run: 8 tokens on S^2, two betas, both normalizations, 21 output times."""

TINY_SET = ["n=8", "T=2", "betas=0.5,2", "num_times=21", "figures=false"]
"""``TINY`` as ``--set`` arguments, without figures (only metrics.json and config.json)."""


def strict_json(text: str) -> object:
    """Parse JSON, refusing the non-standard constants NaN and Infinity."""

    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def assert_run_files(out: Path, metrics: dict, stems: tuple[str, ...]) -> None:
    """The run wrote metrics.json, config.json and each figure as a real PNG and PDF, no more."""
    expected = {"metrics.json", "config.json"}
    expected |= {f"{stem}.{extension}" for stem in stems for extension in ("png", "pdf")}
    assert {path.name for path in out.iterdir()} == expected
    assert sorted(metrics["figures"]) == sorted(stems)
    for stem in stems:
        assert (out / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{stem}.pdf").read_bytes()[:5] == b"%PDF-"


def assert_refused(scenario: str, setting: list[str], name: str, tmp_path: Path, capsys) -> None:
    """``attnflow run SCENARIO --set SETTING`` exits with 2, prints one error line naming
    ``name=``, and writes nothing (neither the output directory nor anything beside it)."""
    from scenarios.harness.cli import main

    out_dir = tmp_path / "out"
    code = main(["run", scenario, "--out", str(out_dir), "--set", *setting])
    err = capsys.readouterr().err
    assert code == 2
    assert not out_dir.exists() and list(tmp_path.iterdir()) == []
    assert len(err.strip().splitlines()) == 1 and f"{name}=" in err


def assert_metrics_written(out: Path, config: object, metrics: dict) -> None:
    """metrics.json in ``out`` is strict JSON equal to ``metrics``, with ``config``'s fields as
    its parameters."""
    from scenarios.harness import config_to_dict

    written = strict_json((out / "metrics.json").read_text())
    assert written == json.loads(json.dumps(metrics, allow_nan=False))
    assert written["parameters"] == config_to_dict(config)


def default_sigint() -> None:
    """In a child process, before exec: SIGINT to its default disposition. An ignored SIGINT is
    inherited across exec (a test run in the background ignores it), and Python then installs no
    KeyboardInterrupt handler, so the child could not be interrupted."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def traced_peak(action: Callable[[], object]) -> int:
    """The most bytes Python held at once (tracemalloc) while ``action`` ran."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
