"""The progress reporter: a bar that rewrites one line on a terminal, plain "phase: done" lines elsewhere."""

from __future__ import annotations

import io
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
    with Progress(stream, tty=True, clock=ticking()).phase("edge and ingest", total=4, unit="hours") as step:
        step()
        step(3)
    text = stream.getvalue()
    frames = text.split("\r")[1:]
    assert "\n" not in "".join(frames[:-1])  # every update rewrites the same line
    assert frames[0].startswith("edge and ingest [" + "-" * 24 + "] 0/4 hours")
    assert frames[1].startswith("edge and ingest [" + "#" * 6 + "-" * 18 + "] 1/4 hours")
    assert frames[2].startswith("edge and ingest [" + "#" * 24 + "] 4/4 hours")
    assert frames[-1] == "edge and ingest: done (1.5 s)\x1b[K\n"  # the clock read at the start, each step, the end


def test_a_failing_phase_leaves_the_terminal_on_a_new_line() -> None:
    stream = io.StringIO()
    with pytest.raises(RuntimeError), Progress(stream, tty=True, clock=ticking()).phase("ingest", total=2):
        raise RuntimeError("broken")
    assert stream.getvalue().endswith("\n") and "done" not in stream.getvalue()


def test_a_stream_that_is_not_a_terminal_gets_plain_lines() -> None:
    assert Progress(io.StringIO()).tty is False


def test_silent_reports_nothing() -> None:
    with Silent().phase("anything", total=2) as step:
        step()
        step(5)
