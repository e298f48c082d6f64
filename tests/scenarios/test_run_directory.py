"""A run's output directory describes exactly one run: swapped in whole, never mixed, never left
half-written, whatever stops the run (an error, Ctrl-C, SIGTERM, SIGHUP, SIGKILL)."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scenarios.harness import output
from scenarios.harness.config import ConfigError
from scenarios.harness.output import (
    LOCK_FILE,
    STAGING_PREFIX,
    check_output_dir,
    remove_stale_staging,
    staged_run,
)
from tests.scenarios.helpers import default_sigint

ROOT = Path(__file__).resolve().parents[2]
SLOW_RUN = [
    "run",
    "clustering",
    "--set",
    "n=8",
    "betas=1",
    "normalizations=softmax",
    "T=100",
    "num_times=2",
    "method=euler",
    "step_size=1e-4",
]
"""A run that takes about a million Euler steps: long enough to be stopped mid-way."""


def _write_run(directory: Path, label: str, files: tuple[str, ...] = ()) -> None:
    """A fake run: metrics.json and config.json naming ``label``, plus ``files``."""
    for name in ("metrics.json", "config.json", *files):
        (directory / name).write_text(json.dumps({"run": label}))


def _contents(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(directory.iterdir())}


def _staging_dirs(parent: Path) -> list[Path]:
    return sorted(parent.glob(f"{STAGING_PREFIX}*"))


def test_a_new_run_replaces_the_previous_one_whole(tmp_path):
    out = tmp_path / "out"
    with staged_run(out) as staging:
        _write_run(staging, "first", ("a.png", "b.png"))
    with staged_run(out) as staging:
        _write_run(staging, "second", ("c.png",))
    assert set(_contents(out)) == {"metrics.json", "config.json", "c.png"}
    assert json.loads((out / "metrics.json").read_text()) == {"run": "second"}
    assert [path.name for path in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two renames"])
@pytest.mark.parametrize("stop", ["before the swap", "after the swap"])
def test_an_interrupted_commit_leaves_the_old_run_or_the_new_one(
    tmp_path, monkeypatch, request, exchange, stop
):
    out = tmp_path / "out"
    out.mkdir()
    _write_run(out, "old", ("old.png",))
    old = _contents(out)
    swap = output._exchange if exchange else (lambda first, second: False)
    rename = os.rename

    def interrupted_exchange(first, second):
        if stop == "before the swap":
            raise KeyboardInterrupt
        done = swap(first, second)
        if done:
            raise KeyboardInterrupt
        return done

    def interrupted_rename(source, target):
        # The fallback holds signals across its two renames: a Ctrl-C in between is delivered
        # only after both.
        rename(source, target)
        if Path(target) == out:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(output, "_exchange", interrupted_exchange)
    monkeypatch.setattr(output.os, "rename", interrupted_rename)
    # Ctrl-C must raise here even when the test run inherited SIGINT ignored (in the background).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    with pytest.raises(KeyboardInterrupt), staged_run(out) as staging:
        _write_run(staging, "new", ("new.png",))
    new = dict.fromkeys(("config.json", "metrics.json", "new.png"), '{"run": "new"}')
    assert _contents(out) == (old if stop == "before the swap" else new)


def test_a_failed_run_leaves_the_previous_run_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    _write_run(out, "old", ("old.png",))
    old = _contents(out)
    with pytest.raises(RuntimeError), staged_run(out) as staging:
        _write_run(staging, "new")
        raise RuntimeError("solver blew up")
    assert _contents(out) == old
    assert _staging_dirs(tmp_path) == []


def test_output_paths_that_are_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    (tmp_path / "file").write_text("")
    for path, words in [
        (Path(""), "is not accepted"),
        (Path("."), "is not accepted"),
        (tmp_path / "mine", "not an attnflow run"),
        (tmp_path / "file", "not a directory"),
    ]:
        with pytest.raises(ConfigError, match=words):
            check_output_dir(path)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty")
    check_output_dir(tmp_path / "new" / "deeper")


def test_a_parent_where_nothing_can_be_written_is_refused_before_any_work(tmp_path, monkeypatch):
    # Simulated: root (CI) may write anywhere, so a read-only directory would not show it.
    writable = os.access
    locked = tmp_path / "locked"
    monkeypatch.setattr(
        output.os, "access", lambda path, mode: Path(path) != locked and writable(path, mode)
    )
    locked.mkdir()
    (locked / "out").mkdir()
    with pytest.raises(ConfigError, match=f"{str(locked)!r} is not writable"):
        check_output_dir(locked / "out")
    check_output_dir(tmp_path / "elsewhere")


def test_stale_staging_of_dead_runs_is_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / f"{STAGING_PREFIX}out-dead"
    live = tmp_path / f"{STAGING_PREFIX}out-live"
    fresh = tmp_path / f"{STAGING_PREFIX}out-fresh"
    old = tmp_path / f"{STAGING_PREFIX}out-old"
    for directory in (dead, live, fresh, old):
        directory.mkdir()
    (dead / LOCK_FILE).write_text("")
    (live / LOCK_FILE).write_text("")
    os.utime(old, (time.time() - 2 * output.STALE_AFTER_S,) * 2)
    handle = os.open(live / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert remove_stale_staging(tmp_path) == [dead, old]
    finally:
        os.close(handle)
    assert _staging_dirs(tmp_path) == [fresh, live]


def _start(out: Path, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "scenarios.command", *SLOW_RUN, "--out", str(out)],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )


def _wait_for_lock(parent: Path, process: subprocess.Popen) -> None:
    """Wait until the run holds its staging lock (it is then simulating), or fail if it ended."""
    deadline = time.monotonic() + 120
    while not any((staging / LOCK_FILE).exists() for staging in _staging_dirs(parent)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["INT", "TERM", "HUP"]
)
def test_a_signal_stops_the_run_with_one_line_and_leaves_nothing(tmp_path, signum):
    out = tmp_path / "runs" / "b"
    process = _start(out, tmp_path)
    _wait_for_lock(out.parent, process)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, stderr
    assert stderr.strip().splitlines() == ["attnflow: error: interrupted; nothing was written"]
    assert list(tmp_path.iterdir()) == []  # no staging, no output, no parents made for it


def test_a_killed_runs_staging_is_removed_by_the_next_run(tmp_path):
    out = tmp_path / "b"
    process = _start(out, tmp_path)
    _wait_for_lock(tmp_path, process)
    process.kill()
    process.communicate(timeout=120)
    assert len(_staging_dirs(tmp_path)) == 1
    with staged_run(out) as staging:
        _write_run(staging, "next")
    assert [path.name for path in tmp_path.iterdir()] == ["b"]


def test_ctrl_c_while_the_command_starts_is_one_line(monkeypatch, capsys):
    from scenarios import command

    real_import = __import__

    def interrupted(name, *args, **kwargs):
        if name == "scenarios.harness.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", interrupted)
    assert command.main() == 130
    assert capsys.readouterr().err.splitlines() == [
        "attnflow: error: interrupted while starting; nothing was written"
    ]


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    reader_gone = subprocess.run(
        f"{sys.executable} -m scenarios.command list | head -c 0",
        shell=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert reader_gone.stderr == ""
