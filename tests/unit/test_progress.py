"""The progress reporter: a bar that rewrites one line on a terminal, plain "phase: done" lines elsewhere."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pytest

from twinledger.progress import Progress, Silent


def ticking(step: float = 0.5) -> Callable[[], float]:
    now = [0.0]

    def clock() -> float:
        now[0] += step
        return now[0]

    return clock


def test_off_a_terminal_each_phase_is_one_plain_line() -> None:
    stream = io.StringIO()
    progress = Progress(stream, tty=False, clock=ticking())
    with progress.phase("edge and ingest", total=3, unit="hours") as step:
        for _ in range(3):
            step()
    with progress.phase("federating"):
        pass
    assert stream.getvalue() == "edge and ingest: done (0.5 s)\nfederating: done (0.5 s)\n"
    assert progress.timings == {"edge and ingest": 0.5, "federating": 0.5}


def test_on_a_terminal_the_bar_rewrites_one_line_then_ends_done() -> None:
    stream = io.StringIO()
    with Progress(stream, tty=True, clock=ticking(), refresh_s=None).phase(
        "edge and ingest", total=4, unit="hours"
    ) as step:
        step()
        step(3)
    text = stream.getvalue()
    frames = text.split("\r")[1:]
    assert "\n" not in "".join(frames[:-1])  # every update rewrites the same line
    assert frames[0].startswith("edge and ingest [" + "-" * 24 + "] 0/4 hours")
    assert frames[1].startswith("edge and ingest [" + "#" * 6 + "-" * 18 + "] 1/4 hours")
    assert frames[2].startswith("edge and ingest [" + "#" * 24 + "] 4/4 hours")
    # the clock is read at the start, at each of the three draws and at the end: 4 ticks of 0.5 s
    assert frames[-1] == "edge and ingest: done (2.0 s)\x1b[K\n"


def test_a_failing_phase_leaves_the_terminal_on_a_new_line() -> None:
    stream = io.StringIO()
    with (
        pytest.raises(RuntimeError),
        Progress(stream, tty=True, clock=ticking(), refresh_s=None).phase("ingest", total=2),
    ):
        raise RuntimeError("broken")
    assert stream.getvalue().endswith("\n") and "done" not in stream.getvalue()


def test_a_stream_that_is_not_a_terminal_gets_plain_lines() -> None:
    assert Progress(io.StringIO()).tty is False


def test_silent_reports_nothing() -> None:
    with Silent().phase("anything", total=2) as step:
        step()
        step(5)


def test_on_a_terminal_a_phase_without_steps_keeps_counting_its_time() -> None:
    stream = io.StringIO()
    with Progress(stream, tty=True, refresh_s=0.01).phase("commissioning"):
        time.sleep(0.2)
    frames = stream.getvalue().split("\r")[1:]
    assert len(frames) >= 3  # the first draw, redraws while the phase ran, the end
    assert all(f.startswith("commissioning ... ") for f in frames[:-1])
    assert frames[-1].startswith("commissioning: done (0.")
