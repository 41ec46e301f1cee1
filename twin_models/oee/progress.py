"""What history the OEE schedule has already folded in: a watermark over a machine's envelope numbers.

Every stored segment carries the ``seq`` of its envelope, unique per machine (the history table's key).
Arrival order is not ``seq`` order: a gateway that spooled through an outage publishes old envelopes hours
later, and live ones may overtake them. So the watermark is not "the highest seq seen" (that would skip a
late envelope) but :class:`FoldedSeqs`: every seq up to ``through`` is folded in, and the folded seqs above
it are listed. A seq that is neither is new, however late it arrives. Gaps that never fill (an envelope
quarantined, or lost) are given up once the history after them is older than the schedule's look-back, so
the list stays bounded.

Pure: no I/O.

Example:
    >>> folded = FoldedSeqs.empty().fold([0, 1, 2, 5, 6])
    >>> folded.through, folded.above
    (2, (5, 6))
    >>> [s for s in (3, 4, 5, 7) if folded.is_new(s)]
    [3, 4, 7]
    >>> folded.fold([3, 4]).through
    6
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["FoldedSeqs"]


@dataclass(frozen=True)
class FoldedSeqs:
    """The seqs of one machine folded into its stored OEE periods.

    ``through``: every seq ``<= through`` is folded in (or was given up); ``above``: the folded seqs greater
    than ``through + 1``, ascending (``through + 1`` itself is never folded, else ``through`` would be
    higher).
    """

    through: int
    above: tuple[int, ...] = ()

    @classmethod
    def empty(cls) -> FoldedSeqs:
        """Nothing folded in yet (seqs start at 0).

        Example:
            >>> FoldedSeqs.empty().is_new(0)
            True
        """
        return cls(through=-1)

    def is_new(self, seq: int) -> bool:
        """True when ``seq`` has not been folded in.

        Example:
            >>> FoldedSeqs(through=4, above=(7,)).is_new(6), FoldedSeqs(through=4, above=(7,)).is_new(7)
            (True, False)
        """
        if seq <= self.through:
            return False
        return seq not in self.above

    def fold(self, seqs: Iterable[int]) -> FoldedSeqs:
        """This watermark with ``seqs`` folded in, ``through`` advanced over every run without a gap.

        Example:
            >>> FoldedSeqs(through=1, above=(3,)).fold([2]).through
            3
        """
        pending = set(self.above)
        pending.update(s for s in seqs if s > self.through)
        through = self.through
        while through + 1 in pending:
            through += 1
            pending.discard(through)
        return FoldedSeqs(through=through, above=tuple(sorted(s for s in pending if s > through)))

    def give_up_through(self, seq: int) -> FoldedSeqs:
        """Treat every seq ``<= seq`` as folded (gaps below it will not fill, or are too old to matter).

        Example:
            >>> FoldedSeqs(through=1, above=(4, 5, 9)).give_up_through(4)
            FoldedSeqs(through=5, above=(9,))
        """
        if seq <= self.through:
            return self
        return FoldedSeqs(through=seq, above=()).fold(self.above)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: ``through`` and the folded seqs above it as ``[first, last]`` runs.

        Example:
            >>> FoldedSeqs(through=1, above=(3, 4, 5, 9)).to_dict()
            {'through': 1, 'above': [[3, 5], [9, 9]]}
        """
        runs: list[list[int]] = []
        for s in self.above:
            if runs and runs[-1][1] == s - 1:
                runs[-1][1] = s
            else:
                runs.append([s, s])
        return {"through": self.through, "above": runs}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> FoldedSeqs:
        """The inverse of :meth:`to_dict`.

        Example:
            >>> FoldedSeqs.from_dict({"through": 1, "above": [[3, 5], [9, 9]]}).above
            (3, 4, 5, 9)
        """
        above = tuple(s for lo, hi in doc.get("above", []) for s in range(int(lo), int(hi) + 1))
        return cls(through=int(doc["through"]), above=above)
