"""The maintenance store's port contract: the same assertions against the DynamoDB adapter (moto) and the
in-process one, as ``test_port_contracts.py`` does for the other ports."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chalicelib.adapters.memory_maintenance import MemoryMaintenanceStore
from chalicelib.ports.maintenance import HeadRecord, HealthPoint, MaintenanceStore, PublishedPlan
from tests.functional.conftest import T0
from tests.functional.maintenance_support import PLAN
from twin_models.maintenance import (
    Alarm,
    Author,
    EntryContent,
    LogEntry,
    TicketEvent,
    apply_event,
    load_plan,
    seal_entry,
    ticket_id_of,
)

WHO = Author(subject="s", tenant="t", role="system")


@pytest.fixture(params=["aws", "memory"])
def store(request: pytest.FixtureRequest) -> MaintenanceStore:
    if request.param == "aws":
        request.getfixturevalue("moto_aws")
        from chalicelib.adapters.maintenance import DynamoMaintenanceStore

        return DynamoMaintenanceStore()
    return MemoryMaintenanceStore()


def entry(previous: LogEntry | None, text: str = "x", machine_id: str = "cnc-01", **extra: object) -> LogEntry:
    content = EntryContent(kind="note", occurred_at=T0, text=text, **extra)
    return seal_entry(content, machine_id=machine_id, previous=previous, author=WHO, recorded_at=T0)


def test_an_append_takes_its_place_once(store: MaintenanceStore) -> None:
    first = entry(None)
    assert store.append(first) is True
    assert store.append(entry(None, "a rival first entry")) is False
    second = entry(first, "second")
    assert store.append(second) is True
    assert store.head("cnc-01") == second and store.entry("cnc-01", 0) == first
    assert store.entries("cnc-01") == [first, second]
    assert store.entries("cnc-01", 1) == [second] and store.entries("cnc-01", 0, 0) == [first]
    assert store.head("cnc-02") is None and store.entries("cnc-02") == []


def test_concurrent_appenders_get_one_place_each(store: MaintenanceStore, request: pytest.FixtureRequest) -> None:
    first = entry(None)
    store.append(first)
    rivals = [entry(first, f"rival {i}") for i in range(6)]
    if request.node.callspec.params["store"] == "aws":
        # moto's in-process DynamoDB does not serialise concurrent transactions the way DynamoDB does, so
        # against it the rivals come one after another: the condition on the place refuses all but the first
        won = [store.append(rival) for rival in rivals]
    else:
        with ThreadPoolExecutor(max_workers=6) as pool:
            won = list(pool.map(store.append, rivals))
    assert sum(won) == 1
    assert store.entries("cnc-01")[1] == rivals[won.index(True)]


def test_the_ticket_moves_with_its_entry_atomically(store: MaintenanceStore) -> None:
    alarm = Alarm(source="anomaly", code="spindle_bearings", severity="warning", component="spindle_bearings")
    event = TicketEvent(ticket_id=ticket_id_of("cnc-01", 0), event="opened")
    opened_entry = seal_entry(
        EntryContent(kind="alarm", occurred_at=T0, alarm=alarm, ticket_event=event),
        machine_id="cnc-01",
        previous=None,
        author=WHO,
        recorded_at=T0,
    )
    ticket = apply_event(None, opened_entry)
    assert store.append(opened_entry, ticket)
    ack = entry(opened_entry, ticket_event=TicketEvent(ticket_id=ticket.ticket_id, event="acknowledged"))
    moved = apply_event(ticket, ack)
    rival = entry(
        opened_entry, "rival", ticket_event=TicketEvent(ticket_id=ticket.ticket_id, event="dismissed", reason="r")
    )
    assert store.append(ack, moved) is True
    assert store.append(rival, apply_event(ticket, rival)) is False  # its place is taken: the ticket stays
    stored = store.ticket("cnc-01", ticket.ticket_id)
    assert stored is not None and stored.state == "acknowledged"
    assert store.tickets("cnc-01") == [moved]


def test_pending_heads_are_cleared_only_at_the_seq_they_were_read(store: MaintenanceStore) -> None:
    first = entry(None)
    store.append(first)
    store.append(entry(None, machine_id="cnc-02"))
    assert store.pending_heads() == [("cnc-01", 0), ("cnc-02", 0)]
    store.append(entry(first))  # a newer append after the heads job read the mark
    assert store.clear_pending("cnc-01", 0) is False
    assert store.clear_pending("cnc-01", 1) is True and store.clear_pending("cnc-02", 0) is True
    assert store.pending_heads() == []


def test_heads_are_kept_once_in_order(store: MaintenanceStore) -> None:
    for seq in (3, 1):
        store.put_head(HeadRecord("cnc-01", seq, "0x" + "ab" * 32, f"maintenance-head/cnc-01/{seq}", T0))
    store.put_head(HeadRecord("cnc-01", 1, "0x" + "ab" * 32, "maintenance-head/cnc-01/1", T0 + timedelta(hours=1)))
    assert [(h.seq, h.submitted_at) for h in store.heads("cnc-01")] == [(1, T0), (3, T0)]


def test_health_keeps_one_scoring_per_ten_minutes(store: MaintenanceStore) -> None:
    for minutes in (0, 4, 12, 31):
        point = HealthPoint(
            "cnc-01",
            T0 + timedelta(minutes=minutes),
            "ok",
            float(minutes),
            1.5,
            3.0,
            {"spindle_bearings": 0.75},
            "spindle_bearings",
        )
        store.observe(point)
    kept = store.health("cnc-01", T0, T0 + timedelta(hours=1))
    assert [p.score for p in kept] == [4.0, 12.0, 31.0]
    assert kept[0].shares == {"spindle_bearings": 0.75} and kept[0].critical == 3.0
    assert store.health("cnc-01", T0 + timedelta(minutes=10), T0 + timedelta(minutes=20))[0].score == 12.0


def test_plans_are_kept_per_lessor_and_machine_type(store: MaintenanceStore) -> None:
    plan = load_plan(PLAN)
    store.put_plan(PublishedPlan(plan, "toolmaker", T0, "lars"))
    found = store.plan("toolmaker", "vmc-800")
    assert found is not None and found.plan == plan and found.published_by == "lars"
    assert store.plan("othermaker", "vmc-800") is None and store.plan("toolmaker", "vmc-900") is None
