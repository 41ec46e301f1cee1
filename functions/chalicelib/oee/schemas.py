"""The HTTP contract of the OEE area: the window query, the reports, and a site's shift calendar.

Example:
    >>> OeeQuery.model_validate({"by": "shift"}).by
    'shift'
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.http import QueryTime
from twin_models.oee import OeeReport, PlantCalendar

__all__ = ["FleetOee", "LineOee", "MachineOee", "OeeQuery", "SiteCalendar"]


class OeeQuery(BaseModel):
    """``?from=&to=&by=``: the window (default: the day up to now) and the periods to split it into."""

    model_config = ConfigDict(populate_by_name=True)

    start: Annotated[QueryTime | None, Field(alias="from")] = None
    end: Annotated[QueryTime | None, Field(alias="to")] = None
    by: Literal["shift", "day", "week"] | None = Field(default=None, description="absent: the whole window")


class FleetOee(OeeReport):
    """An OEE report and where its periods came from (stored per shift, or computed now)."""

    periods_stored: int
    periods_computed: int


class MachineOee(FleetOee):
    """One machine's OEE report."""

    machine_id: str


class LineOee(FleetOee):
    """One line's OEE report."""

    line: str


class SiteCalendar(BaseModel):
    """A site's shift calendar in the plant's local zone."""

    site: str
    calendar: PlantCalendar
