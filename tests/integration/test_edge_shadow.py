"""Shadow sync over the real broker: a desired change reaches the gateway and is reported back."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_greengrass.config import load_config_dict
from edge_greengrass.pki import provision_device
from edge_greengrass.runner import Gateway
from edge_greengrass.shadow import shadow_topic
from edge_greengrass.transport import MqttEndpoint, MqttIdentity, MqttLink
from twinledger.local.broker import SHADOW_SERVICE_IDENTITY, MosquittoBroker, find_mosquitto, free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(find_mosquitto() is None, reason="mosquitto is not installed (apt-get install mosquitto)"),
]


def test_desired_configuration_is_applied_and_reported(tmp_path: Path) -> None:
    with MosquittoBroker(tmp_path / "broker", port=free_port()) as broker:
        # Given: a gateway for cnc-01 over direct MQTT5, and the shadow service listening for reports
        broker.client_credentials("cnc-01")
        service = broker.client_credentials(SHADOW_SERVICE_IDENTITY)
        key = provision_device(tmp_path / "gw", "gw").private_key
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        config = load_config_dict(
            {
                "site": "plant-a",
                "signing": {"key_file": str(key), "key_id": "gw"},
                "source": {"type": "simulator", "machines": 1, "speed": 20, "start": start.isoformat()},
                "mqtt": {
                    "endpoint": "127.0.0.1",
                    "port": broker.port,
                    "ca_file": str(broker.ca_certificate),
                    "credentials_dir": str(broker.pki_dir / "clients"),
                },
            },
            base=tmp_path,
        )
        endpoint = MqttEndpoint("127.0.0.1", broker.port, broker.ca_certificate)
        iot = MqttLink(endpoint, MqttIdentity("iot", service.certificate, service.private_key)).start()
        assert iot.wait_connected(10)
        reports: list[dict[str, object]] = []
        got_report = threading.Event()

        def on_report(topic: str, payload: bytes) -> None:
            reports.append(json.loads(payload))
            if json.loads(payload)["state"]["reported"]["maintenance_mode"]:
                got_report.set()

        iot.subscribe(shadow_topic("cnc-01", "config", "update"), on_report)
        gateway = Gateway.from_config(config)
        runner = threading.Thread(target=gateway.run, kwargs={"duration_s": 8})
        runner.start()
        try:
            time.sleep(1.5)  # connected and subscribed
            # When: the shadow service publishes a delta
            delta = {
                "state": {"maintenance_mode": True, "ideal_cycle_times_s": {"P100": 28.5}, "speed": 3},
                "version": 7,
            }
            iot.publish(shadow_topic("cnc-01", "config", "update/delta"), json.dumps(delta).encode()).result(5)
            # Then: the gateway reports the applied values and rejects the unknown key with a reason
            assert got_report.wait(10), f"no report, got {reports}"
        finally:
            gateway.stop_event.set()
            runner.join(10)
            gateway.close()
            iot.stop()
        reported = reports[-1]["state"]["reported"]  # type: ignore[index]
        assert reported["maintenance_mode"] is True and reported["ideal_cycle_times_s"] == {"P100": 28.5}
        assert reported["rejected"] == {"speed": "unknown setting"}
        assert gateway.in_maintenance == {"cnc-01"}
