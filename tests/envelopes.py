"""Test helpers for envelopes as a forger would change them (any schema version)."""

from __future__ import annotations

from typing import Any


def inflate_parts(doc: dict[str, Any], extra: int) -> dict[str, Any]:
    """``doc`` (an envelope document as published) with ``extra`` parts added to its first sample's counter
    (v3: to every sample's, so the forged columns still read) — what a lessee billed per part would try."""
    if doc.get("v") == 3:
        counts = doc["columns"].get("part_count", {"rle": [[0, doc["n"]]]})
        if isinstance(counts, dict):
            doc["columns"]["part_count"] = {"rle": [[value + extra, n] for value, n in counts["rle"]]}
        else:
            doc["columns"]["part_count"] = [value + extra for value in counts]
    else:
        doc["samples"][0]["part_count"] += extra
    return doc
