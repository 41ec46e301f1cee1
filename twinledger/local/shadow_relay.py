"""The local stand-in for the AWS IoT Device Shadow service's MQTT side, over moto's shadow documents.

In AWS, IoT Core keeps each named shadow and speaks MQTT for it: a device publishes on
``$aws/things/<thing>/shadow/name/<name>/update`` and ``.../get``, and hears ``update/delta`` (what desired
still differs from reported), ``update/documents`` (previous and current document) and ``get/accepted`` /
``get/rejected``. Locally, the documents live in moto's IoT data plane (``UpdateThingShadow`` computes
merge, ``null`` deletion, versions and the delta exactly as the cloud's API calls see them), and this relay
speaks the MQTT side on the local broker as the ``twinledger-iot`` identity:

* a device's ``update`` is applied with ``UpdateThingShadow``; then the delta (if any) is published;
* a device's ``get`` is answered from ``GetThingShadow`` (``get/rejected`` with 404 when there is none);
* a change made through the API (``PUT /machines/{id}/desired`` writes ``desired``) is seen by polling the
  document's version, and published as ``update/documents`` and, if desired differs, ``update/delta``.

Example:
    >>> relay = ShadowRelay(endpoint, identity, iot_data, things=["cnc-01"])  # doctest: +SKIP
    >>> relay.start(); ...; relay.stop()                                       # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from typing import Any

from botocore.exceptions import ClientError

from edge_greengrass.shadow import shadow_topic
from edge_greengrass.transport import MqttEndpoint, MqttIdentity, MqttLink

__all__ = ["ShadowRelay"]

_log = logging.getLogger(__name__)


class ShadowRelay:
    """Relays named shadows between the local broker and an ``iot-data`` client (moto)."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        identity: MqttIdentity,
        iot_data: Any,
        *,
        things: list[str],
        shadow_names: tuple[str, ...] = ("config",),
        poll_s: float = 0.25,
    ) -> None:
        self._iot = iot_data
        self.things = list(things)
        self.shadow_names = shadow_names
        self.poll_s = poll_s
        self._link = MqttLink(endpoint, identity)
        self._inbox: queue.Queue[tuple[str, str, str, bytes]] = queue.Queue()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        #: the last document seen per (thing, shadow), to tell API changes apart
        self._seen: dict[tuple[str, str], dict[str, Any]] = {}
        self.relayed = 0

    def start(self, connect_timeout: float = 10.0) -> ShadowRelay:
        """Connect, subscribe to every thing's ``update`` and ``get``, and start relaying."""
        for thing in self.things:
            for name in self.shadow_names:
                for suffix in ("update", "get"):
                    self._link.subscribe(shadow_topic(thing, name, suffix), self._receiver(thing, name, suffix))
        self._link.start()
        if not self._link.wait_connected(connect_timeout):
            raise RuntimeError(f"the shadow relay could not connect within {connect_timeout} s")
        self._worker = threading.Thread(target=self._run, name="shadow-relay", daemon=True)
        self._worker.start()
        return self

    def stop(self) -> None:
        """Stop relaying and disconnect."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join(10)
        self._link.stop()

    def _receiver(self, thing: str, name: str, suffix: str) -> Any:
        def on_message(topic: str, payload: bytes) -> None:
            self._inbox.put((thing, name, suffix, payload))

        return on_message

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                thing, name, suffix, payload = self._inbox.get(timeout=self.poll_s)
            except queue.Empty:
                self._poll()
                continue
            try:
                if suffix == "get":
                    self._answer_get(thing, name)
                else:
                    self._apply_update(thing, name, payload)
            except Exception:  # one bad message must not stop the relay
                _log.exception("shadow relay: %s %s/%s failed", suffix, thing, name)

    def _document(self, thing: str, name: str) -> dict[str, Any] | None:
        try:
            response = self._iot.get_thing_shadow(thingName=thing, shadowName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        doc: dict[str, Any] = json.loads(response["payload"].read())
        return doc

    def _publish(self, thing: str, name: str, suffix: str, body: dict[str, Any]) -> None:
        self._link.publish(shadow_topic(thing, name, suffix), json.dumps(body).encode())
        self.relayed += 1

    def _answer_get(self, thing: str, name: str) -> None:
        doc = self._document(thing, name)
        if doc is None:
            self._publish(thing, name, "get/rejected", {"code": 404, "message": "No shadow exists with name"})
            return
        self._publish(thing, name, "get/accepted", doc)

    def _apply_update(self, thing: str, name: str, payload: bytes) -> None:
        try:
            self._iot.update_thing_shadow(thingName=thing, shadowName=name, payload=payload)
        except ClientError as exc:
            error = exc.response["Error"]
            self._publish(thing, name, "update/rejected", {"code": 400, "message": error.get("Message", "")})
            return
        self._changed(thing, name, self._document(thing, name))

    def _poll(self) -> None:
        for thing in self.things:
            for name in self.shadow_names:
                try:
                    self._changed(thing, name, self._document(thing, name))
                except ClientError:
                    _log.warning("shadow relay: cannot read %s/%s", thing, name, exc_info=True)

    def _changed(self, thing: str, name: str, doc: dict[str, Any] | None) -> None:
        """Publish ``update/documents`` and the delta for a document version not seen yet."""
        if doc is None:
            return
        key = (thing, name)
        previous = self._seen.get(key)
        if previous is not None and previous.get("version") == doc.get("version"):
            return
        self._seen[key] = doc
        self._publish(thing, name, "update/documents", {"previous": previous, "current": doc})
        desired_changed = previous is None or _desired(previous) != _desired(doc)
        delta = doc.get("state", {}).get("delta")
        if delta and desired_changed:  # as IoT Core: a report alone does not send the delta again
            self._publish(thing, name, "update/delta", {"state": delta, "version": doc.get("version")})


def _desired(doc: dict[str, Any]) -> Any:
    return doc.get("state", {}).get("desired")
