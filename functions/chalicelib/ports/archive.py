"""The archive port: documents kept by key (maintenance tickets, quarantined payloads, invoice documents).

In AWS an S3 bucket (``chalicelib.adapters.archive``); in process a dict (``chalicelib.adapters.memory``).

Example:
    >>> from chalicelib.adapters.memory import MemoryArchive
    >>> isinstance(MemoryArchive(), Archive)
    True
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Archive"]


@runtime_checkable
class Archive(Protocol):
    """Documents kept by key (maintenance attachments, quarantined payloads; in AWS the archive bucket)."""

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> None:
        """Keep ``body`` under ``key`` (the same bytes every time for the same key)."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes kept under ``key``; raises KeyError when there are none."""
        ...
