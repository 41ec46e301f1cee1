"""Counts in words, the one way the command line and the demo print them: "1 ticket", "7 tickets".

Example:
    >>> counted(1, "ticket"), counted(7, "ticket"), counted(0, "entry", "entries")
    ('1 ticket', '7 tickets', '0 entries')
"""

from __future__ import annotations

__all__ = ["counted", "plural"]


def plural(noun: str) -> str:
    """The regular English plural of ``noun`` (``box`` -> ``boxes``, ``entry`` -> ``entries``).

    Example:
        >>> plural("batch"), plural("day"), plural("factory"), plural("hash")
        ('batches', 'days', 'factories', 'hashes')
    """
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def counted(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and the noun, singular for exactly one, else plural (``many``, or :func:`plural`).

    Only the last word of ``noun`` takes the plural ("1 record hash", "3 record hashes").

    Example:
        >>> counted(1, "machine"), counted(8, "machine"), counted(2, "record hash")
        ('1 machine', '8 machines', '2 record hashes')
    """
    if count == 1:
        return f"{count} {noun}"
    if many is None:
        head, _, last = noun.rpartition(" ")
        many = f"{head} {plural(last)}" if head else plural(last)
    return f"{count} {many}"
