"""Tickets through the HTTP API (moto DynamoDB): the lifecycle, MTTA and MTTR, every role refusal, the
moves the lifecycle forbids, and the ticket as the fold of its events in the log."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.maintenance_support import MACHINE, Api, api, fields, open_ticket
from twin_models.maintenance import LogEntry, apply_event, check_export

__all__ = ["api"]

TICKETS = f"/machines/{MACHINE}/tickets"
REPAIR = {"kind": "repair", "text": "front bearing replaced, runout 2 µm", "component": "spindle_bearings"}


def move(api: Api, ticket: str, step: str, who: str, body: Any = None) -> tuple[int, Any]:
    return api.call("POST", f"/tickets/{ticket}/{step}", who, body or {})


def test_the_lifecycle_from_open_to_resolved_keeps_the_times_for_mtta_and_mttr(api: Api) -> None:
    ticket = open_ticket(api)
    api.clock.advance(minutes=30)
    assert move(api, ticket, "acknowledge", "operator", {"note": "machine stopped, waiting for service"})[0] == 200
    api.clock.advance(hours=3, minutes=30)
    assert move(api, ticket, "start", "technician")[0] == 200
    api.clock.advance(hours=2)
    status, done = move(api, ticket, "resolve", "technician", {"entry": REPAIR})

    assert status == 200
    view = done["ticket"]
    assert view["state"] == "resolved" and view["next"] == []
    assert (view["mtta_h"], view["mttr_h"]) == (0.5, 6.0)
    assert view["resolving_entry"] == done["entry"]["entry_id"] == f"{MACHINE}.3"
    assert done["entry"]["resolves"] == ticket and done["entry"]["kind"] == "repair"
    assert view["acknowledged_by"]["tenant"] == "factory-1" and view["resolved_by"]["tenant"] == "toolmaker"
    listed = api.ok("GET", TICKETS, "lessor", query={"state": "resolved"})["items"]
    assert [t["ticket_id"] for t in listed] == [ticket]


def test_the_ticket_is_the_fold_of_its_events_in_the_exported_log(api: Api) -> None:
    ticket = open_ticket(api)
    move(api, ticket, "acknowledge", "operator")
    move(api, ticket, "start", "technician")
    move(api, ticket, "resolve", "technician", {"entry": REPAIR})
    api.services.maintenance.anchor_heads()
    api.services.anchoring.run_once()
    export = api.ok("GET", f"/machines/{MACHINE}/maintenance/export", "operator")
    assert check_export(export).ok
    folded = None
    for doc in export["entries"]:
        entry = LogEntry.model_validate(doc)
        if entry.ticket_event is not None:
            folded = apply_event(folded, entry)
    served = api.ok("GET", TICKETS, "operator")["items"][0]
    assert folded is not None and folded.view() == served


def test_resolving_names_an_existing_work_entry(api: Api) -> None:
    ticket = open_ticket(api)
    move(api, ticket, "acknowledge", "operator")
    move(api, ticket, "start", "technician")
    work = api.ok("POST", f"/machines/{MACHINE}/maintenance", "technician", {**REPAIR, "text": "bearing swapped"})
    status, done = move(api, ticket, "resolve", "technician", {"entry_id": work["entry"]["entry_id"]})
    assert status == 200 and done["ticket"]["resolving_entry"] == work["entry"]["entry_id"]
    assert done["entry"]["ticket_event"]["entry"] == work["entry"]["entry_id"]


def test_dismissing_needs_a_reason(api: Api) -> None:
    ticket = open_ticket(api)
    status, answer = move(api, ticket, "dismiss", "technician", {})
    assert status == 400 and fields(answer) == ["body.reason"]
    status, done = move(api, ticket, "dismiss", "technician", {"reason": "the noise is the chip conveyor"})
    assert status == 200 and done["ticket"]["state"] == "dismissed"
    assert done["ticket"]["dismiss_reason"] == "the noise is the chip conveyor"


def test_resolving_needs_the_entry(api: Api) -> None:
    ticket = open_ticket(api)
    move(api, ticket, "acknowledge", "operator")
    move(api, ticket, "start", "technician")
    status, answer = move(api, ticket, "resolve", "technician", {})
    assert status == 400 and "entry" in answer["detail"]
    status, answer = move(api, ticket, "resolve", "technician", {"entry": {"kind": "note", "text": "fixed"}})
    assert status == 400 and fields(answer) == ["body.entry.kind"]
    note = api.ok("POST", f"/machines/{MACHINE}/maintenance", "technician", {"kind": "note", "text": "looked at it"})
    status, answer = move(api, ticket, "resolve", "technician", {"entry_id": note["entry"]["entry_id"]})
    assert status == 400 and "not work" in answer["detail"] and fields(answer) == ["body.entry_id"]


@pytest.mark.parametrize(
    ("steps", "then", "who"),
    [
        ([], "start", "technician"),  # not acknowledged yet
        ([], "resolve", "technician"),  # not started yet
        (["acknowledge"], "acknowledge", "operator"),  # twice
        (["acknowledge"], "resolve", "technician"),  # not started yet
        (["acknowledge", "start"], "start", "technician"),  # twice
        (["acknowledge", "start", "resolve"], "dismiss", "technician"),  # closed
        (["dismiss"], "acknowledge", "operator"),  # closed
    ],
)
def test_moves_the_lifecycle_forbids_are_a_409(api: Api, steps: list[str], then: str, who: str) -> None:
    bodies = {"resolve": {"entry": REPAIR}, "dismiss": {"reason": "false alarm"}}
    ticket = open_ticket(api)
    for step in steps:
        by = "operator" if step == "acknowledge" else "technician"
        assert move(api, ticket, step, by, bodies.get(step))[0] == 200
    status, answer = move(api, ticket, then, who, bodies.get(then))
    assert status == 409, answer
    assert answer["type"] == "urn:twinledger:problem:conflicting-state"


@pytest.mark.parametrize("who", ["technician", "lessor", "integration"])
def test_only_operators_open_tickets_by_hand(api: Api, who: str) -> None:
    status, answer = api.call("POST", TICKETS, who, {"component": "spindle_bearings", "text": "noise"})
    assert status == 403 and "operator" in answer["detail"]


@pytest.mark.parametrize("who", ["technician", "lessor", "integration"])
def test_only_operators_acknowledge(api: Api, who: str) -> None:
    ticket = open_ticket(api)
    assert move(api, ticket, "acknowledge", who)[0] == 403


@pytest.mark.parametrize("who", ["operator", "lessee_technician", "lessor", "integration"])
def test_only_service_technicians_start(api: Api, who: str) -> None:
    ticket = open_ticket(api)
    move(api, ticket, "acknowledge", "operator")
    assert move(api, ticket, "start", who)[0] == 403


@pytest.mark.parametrize("who", ["operator", "lessee_technician", "lessor", "integration"])
def test_only_service_technicians_resolve(api: Api, who: str) -> None:
    ticket = open_ticket(api)
    move(api, ticket, "acknowledge", "operator")
    move(api, ticket, "start", "technician")
    status, answer = move(api, ticket, "resolve", who, {"entry": REPAIR})
    assert status == 403 and "service_technician" in answer["detail"]


@pytest.mark.parametrize("who", ["operator", "lessee_technician", "lessor", "integration"])
def test_only_service_technicians_dismiss(api: Api, who: str) -> None:
    ticket = open_ticket(api)
    assert move(api, ticket, "dismiss", who, {"reason": "no fault"})[0] == 403


@pytest.mark.parametrize("who", ["stranger", "stranger_technician", "stranger_lessor"])
def test_another_tenant_sees_no_ticket(api: Api, who: str) -> None:
    ticket = open_ticket(api)
    assert api.call("GET", TICKETS, who)[0] == 404
    assert api.call("POST", TICKETS, who, {"component": "spindle_bearings", "text": "x"})[0] == 404
    bodies = {"resolve": {"entry": REPAIR}, "dismiss": {"reason": "not ours"}}
    for step in ("acknowledge", "start", "resolve", "dismiss"):
        assert move(api, ticket, step, who, bodies.get(step))[0] == 404, step


@pytest.mark.parametrize("who", ["operator", "technician", "lessor", "integration"])
def test_both_sides_read_the_tickets(api: Api, who: str) -> None:
    ticket = open_ticket(api)
    assert [t["ticket_id"] for t in api.ok("GET", TICKETS, who)["items"]] == [ticket]


def test_one_open_ticket_per_component(api: Api) -> None:
    first = open_ticket(api)
    status, answer = api.call("POST", TICKETS, "operator", {"component": "spindle_bearings", "text": "again"})
    assert status == 409 and first in answer["detail"]
    other = open_ticket(api, component="cooling_system")
    assert other != first


def test_tickets_filter_by_state_and_page(api: Api) -> None:
    for component in ("spindle_bearings", "cooling_system", "tool_change"):
        open_ticket(api, component=component)
    first = api.ok("GET", TICKETS, "operator", query={"limit": 2})
    rest = api.ok("GET", TICKETS, "operator", query={"limit": 2, "next": first["next"]})
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next"] is None
    assert api.ok("GET", TICKETS, "operator", query={"state": "resolved"})["items"] == []
    assert len(api.ok("GET", TICKETS, "operator", query={"state": "open"})["items"]) == 3
    status, answer = api.call("GET", TICKETS, "operator", query={"state": "closed"})
    assert status == 400 and fields(answer) == ["query.state"]


def test_an_unknown_ticket_is_a_404(api: Api) -> None:
    assert move(api, f"{MACHINE}.t5", "acknowledge", "operator")[0] == 404
    assert move(api, "nothing", "acknowledge", "operator")[0] == 404


def test_a_critical_ticket_opened_by_hand_pages_once(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, str]] = []

    class Pager:
        def publish(self, subject: str, message: str, attributes: dict[str, str]) -> str:
            sent.append((subject, message))
            return f"m-{len(sent)}"

    monkeypatch.setattr(api.services.maintenance, "alerts", Pager())
    ticket = open_ticket(api, severity="critical")
    assert len(sent) == 1 and ticket in sent[0][0]
    assert api.ok("GET", TICKETS, "operator")["items"][0]["paged_at"] is not None
