"""The HTTP contract of the twins area: query, body and response models of every route.

Example:
    >>> TimelineQuery.model_validate({"from": "2026-01-05T06:00:00Z", "to": "2026-01-05T07:00:00Z"}).start.hour
    6
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chalicelib.http import PageQuery, QueryTime
from twin_models.signing import load_public_key
from twin_models.states import StateCategory
from twin_models.telemetry import NAME_PATTERN

__all__ = [
    "DesiredAnswer",
    "FleetMachine",
    "FleetPage",
    "FleetQuery",
    "KeyAddition",
    "KeyRetirement",
    "KeyView",
    "MachineKeys",
    "MachinePage",
    "MachineRegistration",
    "MachineSummary",
    "ShadowView",
    "SiteStateCodes",
    "Timeline",
    "TimelineQuery",
    "Twin",
    "TwinQuery",
]


def _p256(pem: str) -> str:
    try:
        load_public_key(pem)
    except Exception as exc:  # whatever the PEM parser makes of hostile text, it is the client's error
        raise ValueError("not a PEM P-256 public key") from exc
    return pem


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except Exception as exc:  # unknown, or not a zone key at all
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


MachineName = Annotated[str, Field(pattern=NAME_PATTERN, description="a machine or site name")]
KeyId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_:.\-/]{1,128}$", description="a key id, e.g. cnc-01/2")]
Pem = Annotated[
    str, Field(min_length=1, max_length=4096, description="a PEM public key (EC P-256)"), AfterValidator(_p256)
]
Zone = Annotated[str, Field(min_length=1, max_length=64, description="an IANA time zone"), AfterValidator(_zone)]


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class MachineSummary(_Out):
    """A machine: where it stands and who owns and leases it."""

    machine_id: str
    site: str
    line: str
    lessor: str
    lessee: str | None


class MachinePage(_Out):
    """``GET /machines``: the caller's machines, by id."""

    items: list[MachineSummary]
    next: str | None


class TwinQuery(BaseModel):
    """``?at=``: the state the history shows at that time (absent: the live twin from the shadows)."""

    at: QueryTime | None = None


class ShadowView(_Out):
    """One named shadow as AWS IoT keeps it."""

    reported: dict[str, Any]
    desired: dict[str, Any]
    delta: dict[str, Any]
    version: int | None


class HistoryState(_Out):
    """The state history shows at a time."""

    state: int
    category: str
    program: str
    since: str | None
    covered: bool
    counters: dict[str, dict[str, int | None]]


class Twin(MachineSummary):
    """A machine's twin: live (``source: shadow``) or at a time (``source: history``)."""

    source: Literal["shadow", "history"]
    lease_lock: dict[str, Any] | None = Field(default=None, description="live twin only")
    shadows: dict[str, ShadowView] | None = Field(default=None, description="live twin only: by shadow name")
    at: str | None = Field(default=None, description="twin at a time only")
    lease_locked: bool | None = Field(default=None, description="twin at a time only")
    state: HistoryState | None = Field(default=None, description="twin at a time only")


class TimelineQuery(BaseModel):
    """``?from=&to=``: the window of a timeline (at most 93 days)."""

    model_config = ConfigDict(populate_by_name=True)

    start: Annotated[QueryTime, Field(alias="from")]
    end: Annotated[QueryTime, Field(alias="to")]


class Interval(_Out):
    """One state interval of a timeline."""

    start: str
    end: str
    state: int
    category: str
    program: str
    ideal_cycle_time_s: float | None = None


class Timeline(_Out):
    """State intervals of a window; time the history does not cover is ``unknown_s``."""

    model_config = ConfigDict(populate_by_name=True)

    machine_id: str
    start: Annotated[str, Field(alias="from")]
    end: Annotated[str, Field(alias="to")]
    covered_s: float
    unknown_s: float
    intervals: list[Interval]


class DesiredAnswer(_Out):
    """What ``PUT /machines/{machine_id}/desired`` changed, and the ``config`` shadow's new version."""

    machine_id: str
    desired: dict[str, Any]
    version: int


class FleetQuery(PageQuery):
    """``?at=`` (required) and the page."""

    at: QueryTime


class FleetMachine(MachineSummary):
    """A machine's state at a time."""

    state: int
    category: str
    program: str
    covered: bool


class FleetPage(_Out):
    """``GET /fleet?at=``: every machine of the caller at ``at``, by id."""

    at: str
    items: list[FleetMachine]
    next: str | None


# -- registration and keys (the lessor's) -----------------------------------------------------------------------


class MachineRegistration(BaseModel):
    """``POST /machines``: a lessor registers a machine and its gateway's public keys."""

    model_config = ConfigDict(extra="forbid")

    machine_id: MachineName
    site: MachineName
    line: Annotated[str, Field(max_length=64)] = ""
    lessee: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    timezone: Zone = "UTC"
    keys: Annotated[dict[KeyId, Pem], Field(min_length=1, max_length=8, description="key id -> PEM")]
    ideal_cycle_times_s: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=64)], Annotated[float, Field(gt=0, le=86400)]],
        Field(max_length=50),
    ] = Field(default_factory=dict)


class KeyAddition(BaseModel):
    """``POST /machines/{machine_id}/keys``: one more gateway key."""

    model_config = ConfigDict(extra="forbid")

    key_id: KeyId
    public_key_pem: Pem


class KeyRetirement(BaseModel):
    """``POST /machines/{machine_id}/keys/retire``: refuse key ``key_id`` from ``at`` (default: now)."""

    model_config = ConfigDict(extra="forbid")

    key_id: KeyId
    at: QueryTime | None = None


class KeyView(_Out):
    """One gateway key: its id and, once retired, the time from which it is refused."""

    key_id: str
    retired_from: datetime | None


class MachineKeys(MachineSummary):
    """A registered machine with its keys."""

    timezone: str
    keys: list[KeyView]


class SiteStateCodes(_Out):
    """A site's own state codes and the category each is read as (empty: the default table only)."""

    site: str
    codes: dict[str, StateCategory] = Field(description="state code -> category")
