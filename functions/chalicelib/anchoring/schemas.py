"""The HTTP contract of anchoring: a record's proof bundle and the result of verifying one.

Example:
    >>> ProofQuery.model_validate({"record_id": "oee/cnc-01/2026-01-05T05:00:00Z"}).record_id[:3]
    'oee'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.http import MAX_QUERY_VALUE

__all__ = ["ProofQuery", "VerificationView"]


class ProofQuery(BaseModel):
    """``?record_id=``: the anchored record (``oee/<machine>/<start>``, ``invoice/<id>``, ...)."""

    record_id: Annotated[str, Field(min_length=1, max_length=MAX_QUERY_VALUE)]


class VerificationView(BaseModel):
    """What checking a bundle found: off line (the Merkle path) and on chain (the registry's root)."""

    model_config = ConfigDict(extra="ignore")

    ok: bool
    offline_ok: bool
    on_chain: bool
    anchored_at: str | None
    block_number: int | None
    reasons: list[str]
