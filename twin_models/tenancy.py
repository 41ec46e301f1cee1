"""Who may see what: tenants, roles and the machines they lease.

A machine belongs to one lessor (the machine-tool maker) and is leased to at most one
lessee at a time. A caller acts for one tenant in one role; it sees a machine only if its
tenant is the machine's lessor or current lessee. Service technicians act for a tenant too.

Example:
    >>> d = Device(thing_name="cnc-01", site="plant-a", lessor="toolmaker", lessee="factory-1")
    >>> can_see(Principal(subject="u1", tenant="factory-1", role="lessee"), d)
    True
    >>> can_see(Principal(subject="u2", tenant="factory-2", role="lessee"), d)
    False
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from twin_models.telemetry import NAME_PATTERN

__all__ = ["Device", "Principal", "Role", "can_see"]

Role = Literal["lessor", "lessee", "technician", "service"]


class Principal(BaseModel):
    """The authenticated caller: its subject, tenant and role."""

    model_config = ConfigDict(frozen=True)

    subject: str
    tenant: Annotated[str, Field(min_length=1)]
    role: Role


class Device(BaseModel):
    """A registered thing: where it is, who owns and leases it, and its gateway's public keys."""

    model_config = ConfigDict(frozen=True)

    thing_name: Annotated[str, Field(pattern=NAME_PATTERN)]
    site: Annotated[str, Field(pattern=NAME_PATTERN)]
    line: str = ""
    lessor: Annotated[str, Field(min_length=1)]
    lessee: str | None = None
    timezone: str = "UTC"
    keys: dict[str, str] = Field(default_factory=dict, description="key id -> PEM public key")
    ideal_cycle_times_s: dict[str, float] = Field(default_factory=dict, description="program -> ideal cycle (s)")


def can_see(principal: Principal, device: Device) -> bool:
    """True if the caller's tenant owns or currently leases the machine."""
    return principal.tenant in (device.lessor, device.lessee)
