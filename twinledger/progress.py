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

    ``timings`` collects each finished phase's seconds by name.
    """

    def __init__(self, stream: TextIO, tty: bool | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.clock = clock
        self.timings: dict[str, float] = {}

    def _bar(self, name: str, done: int, total: int | None, unit: str, seconds: float) -> str:
        if total:
            filled = min(_WIDTH, _WIDTH * done // total)
            count = f"{done}/{total}{' ' + unit if unit else ''}"
            return f"\r{name} [{'#' * filled}{'-' * (_WIDTH - filled)}] {count} {seconds:.0f} s\x1b[K"
        return f"\r{name} ... {seconds:.0f} s\x1b[K"

    @contextlib.contextmanager
    def phase(self, name: str, total: int | None = None, unit: str = "") -> Iterator[Step]:
        """Report the phase ``name`` of ``total`` steps (``unit``: what a step is) until the block ends."""
        began = self.clock()
        done = 0

        def step(n: int = 1) -> None:
            nonlocal done
            done += n
            if self.tty:
                self.stream.write(self._bar(name, done, total, unit, self.clock() - began))
                self.stream.flush()

        if self.tty:
            self.stream.write(self._bar(name, 0, total, unit, 0.0))
            self.stream.flush()
        try:
            yield step
        except BaseException:
            if self.tty:  # what follows (an error) starts on a line of its own
                self.stream.write("\n")
            raise
        seconds = self.clock() - began
        self.timings[name] = seconds
        line = f"{name}: done ({seconds:.1f} s)"
        self.stream.write(f"\r{line}\x1b[K\n" if self.tty else f"{line}\n")
        self.stream.flush()
