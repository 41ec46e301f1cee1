"""The HTTP contract of the maintenance area: the list and statistics queries and the answers of every route.

The request bodies are in :mod:`chalicelib.maintenance.requests`; the entry, the ticket, the export and the
plan answered are the domain's own models (:class:`~twin_models.maintenance.LogEntry`,
:class:`~twin_models.maintenance.Ticket`, :class:`~twin_models.maintenance.MaintenanceExport`,
:class:`~twin_models.maintenance.MaintenancePlan`); the models here carry what the API adds around them.

Example:
    >>> query = EntryQuery.model_validate({"kind": "repair", "from": "2026-01-05T06:00:00Z", "limit": "5"})
    >>> query.kind, query.start.hour, query.end, query.page().limit
    ('repair', 6, None, 5)
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.http import PageQuery, QueryTime
from twin_models.anchoring import ProofBundle
from twin_models.maintenance import EntryKind, LogEntry, MaintenanceExport, MaintenancePlan, Ticket

__all__ = [
    "DueItem",
    "DueView",
    "EntryPage",
    "EntryQuery",
    "EntryView",
    "EntryWithProof",
    "ExportView",
    "PlanDocument",
    "PlanView",
    "StatisticsQuery",
    "StatisticsView",
    "TicketMove",
    "TicketPage",
    "TicketQuery",
    "TicketView",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EntryQuery(PageQuery):
    """``?kind=``, ``?from=&to=`` (when the entry happened) and the page."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    kind: Annotated[EntryKind | None, Field(description="only entries of this kind")] = None
    start: Annotated[QueryTime | None, Field(alias="from", description="happened at or after")] = None
    end: Annotated[QueryTime | None, Field(alias="to", description="happened before")] = None


class TicketQuery(PageQuery):
    """``?state=`` (one of the lifecycle's states, or ``active``: not resolved or dismissed) and the page."""

    state: Literal["open", "acknowledged", "in_progress", "resolved", "dismissed", "active"] | None = None


class StatisticsQuery(BaseModel):
    """``?from=&to=`` (default: the seven days before now; at most 93 days)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    start: Annotated[QueryTime | None, Field(alias="from")] = None
    end: Annotated[QueryTime | None, Field(alias="to")] = None


class EntryView(_Out):
    """One entry of the log and its hash (keccak-256 of its RFC 8785 form)."""

    entry: LogEntry
    hash: str


class EntryPage(_Out):
    """``GET /machines/{machine_id}/maintenance``: entries in log order."""

    items: list[EntryView]
    next: str | None
    machine_id: str


class EntryWithProof(EntryView):
    """``GET /maintenance/{entry_id}``: the entry and its proof bundle (``null`` until a head covering it is
    anchored); ``twinledger verify --record`` checks the bundle."""

    proof: ProofBundle | None
    proof_status: Literal["anchored", "pending"]


class ExportView(MaintenanceExport):
    """``GET /machines/{machine_id}/maintenance/export``: checked by ``twinledger verify --maintenance``."""

    model_config = ConfigDict(extra="ignore")


class TicketView(Ticket):
    """A ticket with its MTTA and MTTR (hours) and the moves it allows next."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    mtta_h: float | None = None
    mttr_h: float | None = None
    next: list[str] = Field(default_factory=list)


class TicketPage(_Out):
    """``GET /machines/{machine_id}/tickets``: tickets in the order they were opened."""

    items: list[TicketView]
    next: str | None
    machine_id: str


class TicketMove(EntryView):
    """A ticket opened or moved, and the log entry that records it."""

    ticket: TicketView


class DueItem(_Out):
    """One task of the plan: ``overdue``, ``due`` or ``ok``, with the usage against each interval."""

    task: str
    title: str
    component: str
    status: Literal["overdue", "due", "ok"]
    fraction: float
    reason: str
    usage: dict[str, dict[str, float | None]]
    last_entry: str | None
    due_by: str | None
    ticket: str | None


class DueView(_Out):
    """``GET /machines/{machine_id}/maintenance/due``: the machine's plan and its tasks, most urgent first."""

    machine_id: str
    plan: dict[str, Any] | None
    at: str
    usage: dict[str, float] | None = None
    items: list[DueItem]


class StatisticsView(_Out):
    """``GET /machines/{machine_id}/statistics``: usage from the history, alarms, MTBF/MTTA/MTTR from the log,
    and the health trend of each component with its projected time to critical."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    machine_id: str
    start: Annotated[str, Field(alias="from")]
    end: Annotated[str, Field(alias="to")]
    usage: dict[str, Any]
    entries: dict[str, int]
    alarms: dict[str, Any]
    tickets: dict[str, int]
    mtbf_h: float | None
    mtta_h: float | None
    mttr_h: float | None
    health_trend: list[dict[str, Any]]


class PlanDocument(BaseModel):
    """``PUT /maintenance-plans/{machine_type}``: the plan (its schema: ``twinledger maintenance plan-schema``;
    the maintenance domain names the field at fault); ``machine_type`` defaults to the path's."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"required": ["tasks"]})


class PlanView(_Out):
    """A published plan."""

    plan: MaintenancePlan
    lessor: str
    published_at: str
    published_by: str
