"""What the maintenance functional tests share: the parties of a leased machine, an API caller, a plan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.adapters import aws
from chalicelib.adapters.twins import DeviceRegistry
from chalicelib.auth import issue_token
from chalicelib.wiring import Services
from tests.functional.conftest import JWT_SECRET, T0, reset_services
from twin_models.tenancy import Device

LESSOR, LESSEE = "toolmaker", "factory-1"
MACHINE = "cnc-01"

#: caller name -> (tenant, role claim)
PARTIES: dict[str, tuple[str, str]] = {
    "operator": (LESSEE, "lessee"),  # the lessee's operator
    "lessee_technician": (LESSEE, "technician"),  # the lessee's own maintenance staff: operator rights
    "technician": (LESSOR, "technician"),  # the lessor's service technician
    "lessor": (LESSOR, "lessor"),
    "integration": (LESSEE, "service"),  # a service account: machine alarm codes
    "stranger": ("factory-2", "lessee"),  # another lessee: the machine does not exist for it
    "stranger_technician": ("othermaker", "technician"),
    "stranger_lessor": ("othermaker", "lessor"),
}

PLAN: dict[str, Any] = {
    "machine_type": "vmc-800",
    "version": 3,
    "tasks": [
        {
            "id": "spindle-bearings",
            "title": "Spindle bearing inspection",
            "component": "spindle_bearings",
            "every": {"spindle_hours": 2000, "days": 365},
        },
        {
            "id": "lubrication",
            "title": "Spindle lubrication",
            "component": "spindle_bearings",
            "every": {"spindle_hours": 4},
            "verb": "lubricate",
        },
        {"id": "way-covers", "title": "Way cover check", "component": "general_inspection", "every": {"parts": 50}},
        {"id": "coolant", "title": "Coolant check", "component": "cooling_system", "every": {"days": 30}},
    ],
    "triggers": [
        {"component": "spindle_bearings", "severity": "warning", "task": "spindle-bearings", "within_days": 3},
        {"component": "spindle_bearings", "severity": "critical", "task": "spindle-bearings", "within_days": 0.5},
        {"component": "cooling_system", "severity": "warning", "task": "coolant", "within_days": 2},
    ],
}


class Clock:
    """A settable clock for the services."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Api:
    """The HTTP API as each party calls it."""

    client: Client
    services: Services
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        if who not in self.tokens:
            tenant, role = PARTIES[who]
            self.tokens[who] = issue_token(JWT_SECRET, tenant=tenant, role=role, subject=f"{who}-1")
        return {"Authorization": f"Bearer {self.tokens[who]}", "Content-Type": "application/json"}

    def call(
        self, method: str, path: str, who: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        url = path + ("?" + urlencode(query) if query else "")
        sender = getattr(self.client.http, method.lower())
        kwargs: dict[str, Any] = {"headers": self.headers(who)}
        if method.upper() in ("POST", "PUT"):
            kwargs["body"] = json.dumps(body if body is not None else {})
        response = sender(url, **kwargs)
        return response.status_code, json.loads(response.body) if response.body else None

    def ok(self, method: str, path: str, who: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        status, answer = self.call(method, path, who, body, query)
        assert status in (200, 201), (status, answer)
        return answer


def fields(problem: Any) -> list[str]:
    """The paths of the fields a problem-details answer names."""
    return [str(e["path"]) for e in problem.get("errors", [])]


def register_machine(machine_id: str = MACHINE, machine_type: str = "vmc-800") -> Device:
    device = Device(
        machine_id=machine_id, site="plant-a", line="line-a", lessor=LESSOR, lessee=LESSEE, machine_type=machine_type
    )
    aws.client("iot").create_thing(thingName=machine_id)  # its named shadows
    DeviceRegistry().put(device)
    return device


@pytest.fixture
def api(moto_aws: None) -> Iterator[Api]:
    """The API on moto (the DynamoDB maintenance table) with cnc-01 leased by factory-1 from toolmaker."""
    import app as app_module

    reset_services()  # a fresh in-process chain
    register_machine()
    clock = Clock()
    with wiring.override(clock=clock) as built, Client(app_module.app) as client:
        yield Api(client, built, clock)
    reset_services()


def open_ticket(api: Api, component: str = "spindle_bearings", severity: str = "warning") -> str:
    answer = api.ok(
        "POST",
        f"/machines/{MACHINE}/tickets",
        "operator",
        {"component": component, "severity": severity, "text": "grinding noise at 8000 rpm"},
    )
    return str(answer["ticket"]["ticket_id"])
