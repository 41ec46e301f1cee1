"""Who may do what with a machine's maintenance history.

The caller's maintenance role follows from the role it may act in on the machine
(:func:`twin_models.tenancy.acting_role`):

============================  ==========================  ==================================================
caller                        maintenance role            may
============================  ==========================  ==================================================
lessee (or the lessee's own   ``operator``                read; open and acknowledge tickets; record alarms,
technician)                                               tool changes and notes
the lessor's technician       ``service_technician``      read; start, resolve and dismiss tickets; record
                                                          every kind of work and notes
a service account of a party  ``integration``             read; record alarms (machine alarm codes)
the lessor                    ``reader``                  read; publish the maintenance plan
anyone else                   ``None``                    nothing: the machine does not exist for it
============================  ==========================  ==================================================

Example:
    >>> from twin_models.tenancy import Device, Principal
    >>> d = Device(machine_id="cnc-01", site="a", lessor="toolmaker", lessee="factory-1")
    >>> maintenance_role(Principal(subject="o", tenant="factory-1", role="lessee"), d)
    'operator'
    >>> maintenance_role(Principal(subject="t", tenant="toolmaker", role="technician"), d)
    'service_technician'
    >>> may(maintenance_role(Principal(subject="o", tenant="factory-1", role="lessee"), d), "resolve")
    False
"""

from __future__ import annotations

from typing import Literal

from twin_models.maintenance.entries import WORK_KINDS
from twin_models.tenancy import Device, Principal, acting_role

__all__ = ["ACTIONS", "MaintenanceAction", "MaintenanceRole", "maintenance_role", "may", "may_record", "who_may"]

MaintenanceRole = Literal["operator", "service_technician", "integration", "reader"]
MaintenanceAction = Literal["read", "open", "acknowledge", "start", "resolve", "dismiss", "publish_plan"]

#: The roles allowed each action.
ACTIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"operator", "service_technician", "integration", "reader"}),
    "open": frozenset({"operator"}),
    "acknowledge": frozenset({"operator"}),
    "start": frozenset({"service_technician"}),
    "resolve": frozenset({"service_technician"}),
    "dismiss": frozenset({"service_technician"}),
    "publish_plan": frozenset({"reader"}),
}

#: The entry kinds each role may record through ``POST /machines/{id}/maintenance``.
_RECORDS: dict[str, frozenset[str]] = {
    "operator": frozenset({"alarm", "tool_change", "note"}),
    "service_technician": frozenset({*WORK_KINDS, "note"}),
    "integration": frozenset({"alarm"}),
    "reader": frozenset(),
}


def maintenance_role(principal: Principal, device: Device) -> MaintenanceRole | None:
    """The caller's maintenance role on ``device`` (``None``: not a party to it)."""
    role = acting_role(principal, device)
    if role is None:
        return None
    if role == "lessee":
        return "operator"
    if role == "technician":
        return "service_technician" if principal.tenant == device.lessor else "operator"
    if role == "service":
        return "integration"
    # the lessor itself, and any other role a party holds, reads (the lessor also publishes the plan)
    return "reader"


def may(role: str | None, action: MaintenanceAction) -> bool:
    """Whether ``role`` may take ``action``."""
    return role is not None and role in ACTIONS[action]


def may_record(role: str | None, kind: str) -> bool:
    """Whether ``role`` may record an entry of ``kind``.

    Example:
        >>> may_record("operator", "repair"), may_record("service_technician", "repair")
        (False, True)
    """
    return role is not None and kind in _RECORDS.get(role, frozenset())


def who_may(action: MaintenanceAction) -> str:
    """The roles allowed ``action``, in words (for a 403's message)."""
    return " or ".join(sorted(ACTIONS[action]))
