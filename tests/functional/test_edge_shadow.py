"""Shadow sync: initial document requested until answered, deltas applied, rejections reported."""

from __future__ import annotations

import json
from concurrent.futures import Future
from typing import Any

from edge_greengrass.shadow import DeviceSettings, ShadowSync, shadow_topic


class PubSub:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.callbacks: dict[str, Any] = {}

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        self.published.append((topic, json.loads(payload)))
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def subscribe(self, thing: str, topic: str, callback: Any) -> None:
        self.callbacks[topic] = callback

    def send(self, topic: str, doc: dict[str, Any]) -> None:
        self.callbacks[topic](topic, json.dumps(doc).encode())


def test_initial_document_is_requested_until_answered_then_applied() -> None:
    clock = [0.0]
    bus = PubSub()
    sync = ShadowSync(bus, ["cnc-01"], get_retry_s=5, monotonic=lambda: clock[0])
    sync.start()
    get = shadow_topic("cnc-01", "config", "get")
    sync.pump()
    sync.pump()
    clock[0] = 6
    sync.pump()
    assert [t for t, _ in bus.published] == [get, get]  # once, then again after 5 s without an answer
    bus.send(
        shadow_topic("cnc-01", "config", "get/accepted"),
        {"state": {"desired": {"sampling_interval_s": 2}, "reported": {}}, "version": 4},
    )
    sync.pump()
    clock[0] = 20
    sync.pump()
    assert sync.settings["cnc-01"].sampling_interval_s == 2.0
    topic, report = bus.published[-1]
    assert (
        topic == shadow_topic("cnc-01", "config", "update")
        and report["state"]["reported"]["sampling_interval_s"] == 2.0
    )
    assert [t for t, _ in bus.published].count(get) == 2  # answered: no more requests


def test_deltas_apply_in_version_order_and_report_rejections() -> None:
    bus = PubSub()
    sync = ShadowSync(bus, ["cnc-01"])
    changes: list[bool] = []
    sync.listeners.append(lambda thing, settings: changes.append(settings.maintenance_mode))
    sync.start()
    delta = shadow_topic("cnc-01", "config", "update/delta")
    bus.send(delta, {"state": {"maintenance_mode": True, "sampling_interval_s": 0}, "version": 5})
    bus.send(delta, {"state": {"maintenance_mode": False}, "version": 4})  # older: ignored
    bus.send(shadow_topic("cnc-01", "config", "get/rejected"), {"code": 404, "message": "No shadow exists"})
    sync.pump()
    assert changes == [True] and sync.settings["cnc-01"].maintenance_mode is True
    reports = [doc["state"]["reported"] for t, doc in bus.published if t.endswith("/update")]
    assert reports == [
        {
            "sampling_interval_s": 1.0,
            "ideal_cycle_times_s": {},
            "maintenance_mode": True,
            "lease_lock": False,
            "rejected": {"sampling_interval_s": "Input should be greater than or equal to 0.1"},
        }
    ]


def test_settings_validate_cycle_times() -> None:
    settings = DeviceSettings()
    applied, rejected = settings.apply({"ideal_cycle_times_s": {"P100": 30, "P200": -1}})
    assert applied == {} and rejected["ideal_cycle_times_s"] == "P200: Input should be greater than 0"


def test_a_nested_delta_merges_onto_the_current_settings_and_null_deletes() -> None:
    settings = DeviceSettings()
    settings.apply({"ideal_cycle_times_s": {"P100": 30, "P200": 45}, "maintenance_mode": True})
    # a delta on a nested object carries only the changed path (AWS IoT): one program added
    applied, rejected = settings.apply({"ideal_cycle_times_s": {"P300": 40}})
    assert rejected == {} and settings.ideal_cycle_times_s == {"P100": 30.0, "P200": 45.0, "P300": 40.0}
    assert applied == {"ideal_cycle_times_s": {"P100": 30.0, "P200": 45.0, "P300": 40.0}}
    # null deletes a program, and a whole setting (back to its default)
    settings.apply({"ideal_cycle_times_s": {"P200": None}, "maintenance_mode": None})
    assert settings.ideal_cycle_times_s == {"P100": 30.0, "P300": 40.0} and settings.maintenance_mode is False


def test_the_edge_checks_with_the_clouds_settings_model() -> None:
    settings = DeviceSettings()
    # the cloud accepts 0.1..60 s (twin_models.device_config.DesiredConfig); so does the edge now
    applied, rejected = settings.apply({"sampling_interval_s": 120, "lease_lock": "yes", "speed": 3})
    assert applied == {} and settings.sampling_interval_s == 1.0
    assert rejected == {
        "sampling_interval_s": "Input should be less than or equal to 60",
        "lease_lock": "Input should be a valid boolean",
        "speed": "unknown setting",
    }
    applied, rejected = settings.apply({"lease_lock": True})
    assert applied == {"lease_lock": True} and rejected == {} and settings.lease_lock is True


def test_a_deleted_program_is_reported_as_null_so_the_shadow_forgets_it() -> None:
    bus = PubSub()
    sync = ShadowSync(bus, ["cnc-01"])
    sync.start()
    bus.send(
        shadow_topic("cnc-01", "config", "get/accepted"),
        {
            "state": {
                "desired": {"ideal_cycle_times_s": {"P100": 30, "P200": None}},
                "reported": {"ideal_cycle_times_s": {"P100": 30, "P200": 45}, "lease_lock": False},
            },
            "version": 3,
        },
    )
    sync.pump()
    reported = bus.published[-1][1]["state"]["reported"]
    assert reported["ideal_cycle_times_s"] == {"P100": 30.0, "P200": None}
    bus.send(shadow_topic("cnc-01", "config", "update/delta"), {"state": {"lease_lock": True}, "version": 4})
    sync.pump()
    reported = bus.published[-1][1]["state"]["reported"]
    assert reported["lease_lock"] is True and reported["ideal_cycle_times_s"] == {"P100": 30.0}
