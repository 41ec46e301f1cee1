"""Who may see what: tenants, roles and the machines they lease.

A machine belongs to one lessor (the machine-tool maker) and is leased to at most one
lessee at a time. A caller acts for one tenant in one role; it sees a machine only if its
tenant is the machine's lessor or current lessee. Service technicians act for a tenant too.

Example:
    >>> d = Device(machine_id="cnc-01", site="plant-a", lessor="toolmaker", lessee="factory-1")
    >>> can_see(Principal(subject="u1", tenant="factory-1", role="lessee"), d)
    True
    >>> can_see(Principal(subject="u2", tenant="factory-2", role="lessee"), d)
    False
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from twin_models.telemetry import NAME_PATTERN, UtcDatetime

__all__ = ["Device", "Principal", "Role", "acting_role", "can_see", "parties", "party_to"]

Role = Literal["lessor", "lessee", "technician", "service"]


class Principal(BaseModel):
    """The authenticated caller: its subject, tenant and role."""

    model_config = ConfigDict(frozen=True)

    subject: str
    tenant: Annotated[str, Field(min_length=1)]
    role: Role


class Device(BaseModel):
    """A registered machine: where it is, who owns and leases it, and its gateway's public keys."""

    model_config = ConfigDict(frozen=True)

    machine_id: Annotated[str, Field(pattern=NAME_PATTERN)]
    site: Annotated[str, Field(pattern=NAME_PATTERN)]
    line: str = ""
    machine_type: Annotated[str, Field(max_length=64)] = Field(
        default="", description="the maker's machine type: the lessor's maintenance plan for it applies"
    )
    lessor: Annotated[str, Field(min_length=1)]
    lessee: str | None = None
    timezone: str = "UTC"
    keys: dict[str, str] = Field(default_factory=dict, description="key id -> PEM public key")
    retired_keys: dict[str, UtcDatetime] = Field(
        default_factory=dict, description="key id -> the time from which an envelope signed with it is refused"
    )
    ideal_cycle_times_s: dict[str, float] = Field(default_factory=dict, description="program -> ideal cycle (s)")
    envelope_v1_until: UtcDatetime | None = Field(
        default=None,
        description="the end of this machine's transition window: v1 envelopes (signature inside the JSON) "
        "received after it are refused as v1_retired; None: no end set yet, v1 is still accepted",
    )

    def accepts_v1(self, received_at: datetime) -> bool:
        """Whether a v1 envelope received at ``received_at`` (aware UTC) is still inside the window.

        Example:
            >>> from datetime import UTC, datetime
            >>> d = Device(machine_id="m", site="s", lessor="l", envelope_v1_until=datetime(2027, 1, 1, tzinfo=UTC))
            >>> d.accepts_v1(datetime(2026, 12, 31, tzinfo=UTC)), d.accepts_v1(datetime(2027, 1, 1, tzinfo=UTC))
            (True, False)
        """
        return self.envelope_v1_until is None or received_at < self.envelope_v1_until

    def key_at(self, key_id: str, received_at: datetime) -> str | None:
        """The PEM of key ``key_id`` if it is registered and not retired at ``received_at`` (the one key rule).

        A key retires from a given time: what is received at or after it is refused, whatever time the
        (possibly compromised) key's samples claim.

        Example:
            >>> from datetime import UTC, datetime
            >>> d = Device(machine_id="m", site="s", lessor="l", keys={"m/1": "PEM"},
            ...            retired_keys={"m/1": datetime(2027, 1, 1, tzinfo=UTC)})
            >>> d.key_at("m/1", datetime(2026, 12, 31, tzinfo=UTC)), d.key_at("m/1", datetime(2027, 1, 1, tzinfo=UTC))
            ('PEM', None)
        """
        retired = self.retired_keys.get(key_id)
        if retired is not None and received_at >= retired:
            return None
        return self.keys.get(key_id)


def party_to(principal: Principal, parties: Iterable[str | None]) -> bool:
    """The one visibility rule: a caller sees a resource only if its tenant is one of the resource's parties.

    Machines, leases, invoices and anchored records all answer to it (their parties are the lessor and the
    lessee); for everyone else the resource does not exist.

    Example:
        >>> party_to(Principal(subject="u", tenant="factory-1", role="lessee"), ("toolmaker", "factory-1"))
        True
        >>> party_to(Principal(subject="u", tenant="factory-2", role="lessee"), ("toolmaker", None))
        False
    """
    return any(p is not None and p == principal.tenant for p in parties)


def parties(device: Device) -> tuple[str, ...]:
    """The tenants a machine's records are shared with: its lessor and, while leased, its lessee.

    Example:
        >>> parties(Device(machine_id="cnc-01", site="a", lessor="toolmaker"))
        ('toolmaker',)
    """
    return tuple(t for t in (device.lessor, device.lessee) if t)


def acting_role(principal: Principal, device: Device) -> Role | None:
    """The role the caller may act in on this machine: its claimed role, when the relationship backs it.

    A role claim alone is not enough: a lessor-only action needs the caller's tenant to be *this machine's*
    lessor, a lessee action its current lessee. Technicians and service accounts act for a tenant that is a
    party to the machine. ``None``: the caller may not act on the machine at all.

    Example:
        >>> d = Device(machine_id="cnc-01", site="a", lessor="toolmaker", lessee="factory-1")
        >>> acting_role(Principal(subject="u", tenant="toolmaker", role="lessor"), d)
        'lessor'
        >>> acting_role(Principal(subject="u", tenant="factory-1", role="lessor"), d) is None
        True
    """
    if principal.role == "lessor":
        return "lessor" if principal.tenant == device.lessor else None
    if principal.role == "lessee":
        return "lessee" if device.lessee is not None and principal.tenant == device.lessee else None
    return principal.role if can_see(principal, device) else None


def can_see(principal: Principal, device: Device) -> bool:
    """True if the caller's tenant owns or currently leases the machine."""
    return party_to(principal, (device.lessor, device.lessee))
