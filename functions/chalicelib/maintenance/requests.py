"""The bodies the maintenance routes accept, each a pydantic model (a 400 names the first field that does
not fit: :func:`chalicelib.http.body_model`).

Example:
    >>> NewEntry.model_validate({"kind": "inspection", "text": "spindle bearings ok"}).occurred_at is None
    True
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin_models.maintenance import EntryKind, Part, Severity
from twin_models.telemetry import UtcDatetime

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "Dismissal",
    "Move",
    "NewAlarm",
    "NewEntry",
    "NewTicket",
    "Resolution",
    "UploadedAttachment",
    "WorkEntry",
]

#: The largest attachment one request carries (decoded); the API Gateway payload limit is 10 MB.
MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class UploadedAttachment(_Body):
    """A file sent with an entry (base64); the archive keeps it, the entry its SHA-256."""

    name: Annotated[str, Field(min_length=1, max_length=255)]
    content_type: Annotated[str, Field(min_length=1, max_length=128)] = "application/octet-stream"
    content_base64: Annotated[str, Field(min_length=1, max_length=(MAX_ATTACHMENT_BYTES * 4) // 3 + 4)]


class NewAlarm(_Body):
    """A machine alarm code or an alarm an operator reports (``kind: "alarm"``)."""

    code: Annotated[str, Field(min_length=1, max_length=64)]
    severity: Severity = "warning"
    component: Annotated[str, Field(min_length=1, max_length=128)] = "general_inspection"


class NewEntry(_Body):
    """``POST /machines/{machine_id}/maintenance``: one entry of the log (``occurred_at`` defaults to now)."""

    kind: EntryKind
    occurred_at: UtcDatetime | None = None
    text: Annotated[str, Field(max_length=4000)] = ""
    attachments: Annotated[list[UploadedAttachment], Field(max_length=10)] = Field(default_factory=list)
    parts: Annotated[list[Part], Field(max_length=50)] = Field(default_factory=list)
    alarm: NewAlarm | None = None
    component: Annotated[str, Field(max_length=128)] | None = None
    task: Annotated[str, Field(max_length=128)] | None = None
    corrects: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)


class WorkEntry(NewEntry):
    """The entry that resolves a ticket: hands-on work."""

    kind: Literal["inspection", "repair", "part_replacement", "calibration", "tool_change", "software_update"]


class NewTicket(_Body):
    """``POST /machines/{machine_id}/tickets``: a fault the sensors do not see, reported by an operator."""

    component: Annotated[str, Field(min_length=1, max_length=128)]
    severity: Severity = "warning"
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    code: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    occurred_at: UtcDatetime | None = None


class Move(_Body):
    """``POST /tickets/{id}/acknowledge`` and ``/start``: an optional note."""

    note: Annotated[str, Field(max_length=4000)] = ""


class Dismissal(_Body):
    """``POST /tickets/{id}/dismiss``: why the ticket needs no work."""

    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class Resolution(_Body):
    """``POST /tickets/{id}/resolve``: the entry that resolves the ticket — recorded now (``entry``) or
    already in the log (``entry_id``)."""

    entry: WorkEntry | None = None
    entry_id: Annotated[str, Field(min_length=1, max_length=160)] | None = None
    note: Annotated[str, Field(max_length=4000)] = ""

    @model_validator(mode="after")
    def _one(self) -> Resolution:
        if (self.entry is None) == (self.entry_id is None):
            raise ValueError("give the resolving work as 'entry' or name it by 'entry_id' (one of the two)")
        return self

    def as_dict(self) -> dict[str, Any]:
        """The body as given (for logs)."""
        return self.model_dump(mode="json", exclude_none=True)
