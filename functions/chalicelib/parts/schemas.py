"""The HTTP contract of the parts area: the list query, the share body and the answers of every route.

The inspection and id-scheme bodies are the domain's own models (:class:`~twin_models.parts.Inspection`,
:class:`~twin_models.parts.PartIdScheme`), as are the proof bundle and the inspection record answered; the
models here carry what the API adds around them.

Example:
    >>> query = PartsQuery.model_validate({"from": "2026-01-05T06:00:00Z", "lot": "L-2", "limit": "5"})
    >>> query.start.hour, query.end.year, query.lot, query.page().limit
    (6, 9000, 'L-2', 5)
    >>> Share.model_validate({"tenant": "customer-9"}).tenant
    'customer-9'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.http import API_TIMES, PageQuery, QueryTime
from twin_models.parts import PartRecord

__all__ = ["EpcisBody", "EpcisDocument", "PartPage", "PartsQuery", "Share", "ShareAnswer"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


#: An order or lot a list filters by (as long as a sample may carry one).
Filter = Annotated[str, Field(max_length=64)]


class PartsQuery(PageQuery):
    """``?from=&to=`` (when the part's cycle ended; default: any time), ``?order=``, ``?lot=`` and the page."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    start: Annotated[QueryTime, Field(alias="from", description="cycle end at or after (ISO 8601 with zone)")] = (
        API_TIMES[0]
    )
    end: Annotated[QueryTime, Field(alias="to", description="cycle end before (ISO 8601 with zone)")] = API_TIMES[1]
    order: Annotated[Filter | None, Field(description="only the parts of this production order")] = None
    lot: Annotated[Filter | None, Field(description="only the parts of this material lot")] = None


class PartPage(_Out):
    """``GET /machines/{machine_id}/parts``: the caller's visible parts of the machine, by cycle end."""

    items: list[PartRecord]
    next: str | None


class EpcisBody(_Out):
    """The ``epcisBody`` of an EPCIS document: its events, each with its Event Hash ID as ``eventID``."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    event_list: Annotated[list[dict[str, Any]], Field(alias="eventList")]


class EpcisDocument(_Out):
    """``GET /parts/{part_id}/epcis``: an EPCIS 2.0 JSON-LD ``EPCISDocument`` of the part's events."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    context: Annotated[list[Any], Field(alias="@context", description="the EPCIS 2.0 context and namespaces")]
    type: Literal["EPCISDocument"]
    schema_version: Annotated[Literal["2.0"], Field(alias="schemaVersion")]
    creation_date: Annotated[str, Field(alias="creationDate", description="UTC, millisecond precision")]
    epcis_body: Annotated[EpcisBody, Field(alias="epcisBody")]


class Share(BaseModel):
    """``POST /parts/{part_id}/share``: the tenant (the lessee's customer) to grant read access to."""

    model_config = ConfigDict(extra="forbid")

    tenant: Annotated[str, Field(min_length=1, max_length=128)]


class ShareAnswer(_Out):
    """The part and every tenant it is shared with, after the grant."""

    part_id: str
    shared_with: list[str]
