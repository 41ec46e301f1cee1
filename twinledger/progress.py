"""A small progress reporter for long commands: one phase after another, on standard error.

On a terminal each phase is a bar that rewrites one line (``edge and ingest [######----] 12/24 hours 8 s``)
and ends as ``edge and ingest: done (14.2 s)``; anywhere else (a pipe, a log file, CI) only the plain
``phase: done (n s)`` lines are written, one per phase. :class:`Silent` reports nothing.

Example:
    >>> import io
    >>> stream = io.StringIO()
    >>> progress = Progress(stream, tty=False, clock=iter([0.0, 1.5]).__next__)
    >>> with progress.phase("commissioning", total=3) as step:
    ...     for _ in range(3):
    ...         step()
    >>> stream.getvalue()
    'commissioning: done (1.5 s)\\n'
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol, TextIO

__all__ = ["Progress", "Reporter", "Silent", "Step"]

Step = Callable[..., None]

_WIDTH = 24


class Reporter(Protocol):
    """What a long command reports its phases to."""

    def phase(self, name: str, total: int | None = None, unit: str = "") -> contextlib.AbstractContextManager[Step]:
        """A phase; the context gives a ``step(n=1)`` to call as its work advances."""
        ...


class Silent:
    """Reports nothing (the default of library calls).

    Example:
        >>> with Silent().phase("anything", total=2) as step:
        ...     step()
    """

    @contextlib.contextmanager
    def phase(self, name: str, total: int | None = None, unit: str = "") -> Iterator[Step]:
        """A phase that prints nothing."""
        yield lambda n=1: None


class Progress:
    """Phases on ``stream``: a bar on a terminal (``tty``, default: ``stream.isatty()``), plain lines otherwise.

    On a terminal the bar is also redrawn every ``refresh_s`` seconds (``None``: only as steps are made), so
    the time keeps counting in a phase without steps. ``timings`` collects each finished phase's seconds.
    """

    def __init__(
        self,
        stream: TextIO,
        tty: bool | None = None,
        clock: Callable[[], float] = time.perf_counter,
        refresh_s: float | None = 1.0,
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.refresh_s = refresh_s
        self.timings: dict[str, float] = {}
        self._lock = threading.Lock()

    def _bar(self, name: str, done: int, total: int | None, unit: str, seconds: float) -> str:
        if total:
            filled = min(_WIDTH, _WIDTH * done // total)
            count = f"{done}/{total}{' ' + unit if unit else ''}"
            return f"\r{name} [{'#' * filled}{'-' * (_WIDTH - filled)}] {count} {seconds:.0f} s\x1b[K"
        return f"\r{name} ... {seconds:.0f} s\x1b[K"

    def _write(self, text: str) -> None:
        with self._lock:
            self.stream.write(text)
            self.stream.flush()

    @contextlib.contextmanager
    def phase(self, name: str, total: int | None = None, unit: str = "") -> Iterator[Step]:
        """Report the phase ``name`` of ``total`` steps (``unit``: what a step is) until the block ends."""
        began = self.clock()
        done = 0
        finished = threading.Event()

        def draw() -> None:
            self._write(self._bar(name, done, total, unit, self.clock() - began))

        def step(n: int = 1) -> None:
            nonlocal done
            done += n
            if self.tty:
                draw()

        def tick() -> None:
            assert self.refresh_s is not None
            while not finished.wait(self.refresh_s):
                draw()

        ticker = threading.Thread(target=tick, name=f"progress: {name}", daemon=True)
        if self.tty:
            draw()
            if self.refresh_s is not None:
                ticker.start()
        try:
            yield step
        except BaseException:
            finished.set()
            if self.tty:  # what follows (an error) starts on a line of its own
                self._write("\n")
            raise
        finally:
            finished.set()
            if ticker.is_alive():
                ticker.join()
        seconds = self.clock() - began
        self.timings[name] = seconds
        line = f"{name}: done ({seconds:.1f} s)"
        self._write(f"\r{line}\x1b[K\n" if self.tty else f"{line}\n")
