"""The production order reaches the machine: set in the ``config`` shadow, applied and reported by the
gateway, stamped on every sample sealed after it, and carried onto every part recorded from them."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chalicelib import wiring
from chalicelib.settings import Settings
from edge_greengrass.config import load_config_dict
from edge_greengrass.pki import provision_device
from edge_greengrass.runner import Gateway
from edge_greengrass.shadow import DeviceSettings, shadow_topic
from tests.functional.conftest import sqs_event
from tests.functional.test_edge_lease_lock import Bus, _wait
from twin_models.device_config import DesiredConfig
from twin_models.signing import private_key_from_pem, public_key_pem
from twin_models.tenancy import Device

START = datetime(2026, 1, 5, 6, tzinfo=UTC)


def test_the_order_is_a_setting_of_the_lessee_and_the_mes() -> None:
    order = DesiredConfig(production_order={"order_id": "O-1", "material_lot": "L-1"})
    assert order.forbidden_for("lessee") == [] and order.forbidden_for("service") == []
    assert order.forbidden_for("technician") == ["production_order"]
    settings = DeviceSettings()
    applied, rejected = settings.apply({"production_order": {"order_id": "O-1", "material_lot": "L-1"}})
    assert rejected == {} and applied == {"production_order": {"order_id": "O-1", "material_lot": "L-1"}}
    applied, rejected = settings.apply({"production_order": {"material_lot": None, "product": "PN-1"}})
    assert settings.production_order == {"order_id": "O-1", "product": "PN-1"}
    _, rejected = settings.apply({"production_order": {"colour": "red"}})
    assert "colour" in rejected["production_order"]


def test_an_order_from_the_shadow_is_on_every_later_sample_and_part(tmp_path: Path) -> None:
    # Given a gateway on one simulated machine, running fast, and the cloud that knows its key
    key_file = provision_device(tmp_path / "keys", "gw").private_key
    config = load_config_dict(
        {
            "site": "plant-a",
            "signing": {"key_file": str(key_file), "key_id": "gw"},
            "source": {"type": "simulator", "machines": 1, "speed": 400, "start": START.isoformat()},
            "publisher": {"batch_size": 60},
            "status_file": "status.json",
        },
        base=tmp_path,
    )
    bus = Bus()
    gateway = Gateway(config, bus)
    runner = threading.Thread(target=gateway.run, kwargs={"duration_s": 90, "status_every_s": 0.2})
    runner.start()
    try:
        _wait(lambda: len(bus.telemetry()) >= 3)
        # When the MES sets the order and lot in the config shadow
        delta = shadow_topic("cnc-01", "config", "update/delta")
        order = {"order_id": "O-4711", "material_lot": "L-2026-01", "product": "PN-88"}
        bus.callbacks[delta](delta, json.dumps({"state": {"production_order": order}, "version": 3}).encode())
        _wait(lambda: any(r.get("production_order") for r in bus.reports()))
        ordered_from = len(bus.telemetry())
        _wait(lambda: len(bus.telemetry()) >= ordered_from + 40)
    finally:
        gateway.stop_event.set()
        runner.join(20)
    gateway.close()

    # Then the gateway reported the order, and every sample sealed after it carries it
    assert bus.reports()[-1]["production_order"] == order
    later = [s for doc in bus.telemetry()[ordered_from + 1 :] for s in doc["samples"]]
    assert later and all({k: s.get(k) for k in order} == order for s in later)
    assert all("order_id" not in s for s in bus.telemetry()[0]["samples"])

    # and the cloud, given the signed envelopes, records every part made after it with the order and lot
    key = private_key_from_pem(key_file.read_bytes())
    built = wiring.build(Settings(adapters="memory"))
    built.adapters.devices.put(
        Device(machine_id="cnc-01", site="plant-a", lessor="toolmaker", lessee="f1", keys={"gw": public_key_pem(key)})
    )
    with bus.lock:
        bodies = [p.decode() for t, p in bus.published if t.endswith("/telemetry")]
    outcome = built.ingest.handle_batch(sqs_event(bodies))
    assert outcome.quarantined == 0, dict(outcome.reasons)
    first_ordered = datetime.fromisoformat(later[0]["ts"].replace("Z", "+00:00"))
    parts = [p.record for p in built.adapters.parts.for_machine("cnc-01", first_ordered, START + timedelta(days=3))]
    assert parts
    assert all((p.order_id, p.material_lot, p.product) == ("O-4711", "L-2026-01", "PN-88") for p in parts)
