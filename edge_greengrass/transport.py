"""How envelopes leave the gateway: Greengrass IPC under a nucleus, direct MQTT5 + mTLS otherwise.

Both transports expose the same two calls the publisher needs: ``publish(thing, topic, payload)``
returning a future that resolves on PUBACK (or fails), and ``subscribe(thing, topic, callback)`` for
shadow deltas. The IPC wrapper takes a ``GreengrassCoreIPCClientV2`` in its constructor, so tests pass
a fake that records calls.

Example:
    >>> class FakeIpc:
    ...     def __init__(self): self.calls = []
    ...     def publish_to_iot_core_async(self, **kw):
    ...         from concurrent.futures import Future
    ...         self.calls.append(kw); f = Future(); f.set_result(None); return f
    >>> ipc = FakeIpc()
    >>> IpcTransport(ipc).publish("m1", "dt/twinledger/s/m1/telemetry", b"{}").result()
    >>> ipc.calls[0]["topic_name"], ipc.calls[0]["qos"]
    ('dt/twinledger/s/m1/telemetry', '1')
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from edge_greengrass.errors import ConfigurationError, PublishError

__all__ = [
    "DirectMqttTransport",
    "IpcTransport",
    "MessageCallback",
    "MqttEndpoint",
    "MqttIdentity",
    "MqttLink",
    "Transport",
]

_log = logging.getLogger(__name__)

MessageCallback = Callable[[str, bytes], None]
"""Called with ``(topic, payload)`` for every message on a subscription."""

# MQTT5 PUBACK reason codes that mean "accepted" (0 success, 16 no matching subscribers).
_PUBACK_OK = {0, 16}
_QOS_AT_LEAST_ONCE = "1"  # awsiot.greengrasscoreipc.model.QOS.AT_LEAST_ONCE


class Transport(Protocol):
    """What the publisher and shadow sync need from a connection to IoT Core."""

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        """Publish with QoS 1; the future resolves when the message is acknowledged."""
        ...

    def subscribe(self, thing: str, topic: str, callback: MessageCallback) -> None:
        """Subscribe (QoS 1) on behalf of ``thing``; ``callback(topic, payload)`` per message."""
        ...

    def is_connected(self, thing: str) -> bool:
        """True when a publish for ``thing`` can be sent now."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _chain(source: Future[Any], check: Callable[[Any], None] | None = None) -> Future[None]:
    """A ``Future[None]`` that mirrors ``source`` (failing with :class:`PublishError`)."""
    out: Future[None] = Future()

    def done(fut: Future[Any]) -> None:
        exc = fut.exception()
        if exc is not None:
            out.set_exception(PublishError(f"publish failed: {exc!r}"))
            return
        try:
            if check is not None:
                check(fut.result())
        except PublishError as refused:
            out.set_exception(refused)
            return
        out.set_result(None)

    source.add_done_callback(done)
    return out


class IpcTransport:
    """Thin wrapper over ``GreengrassCoreIPCClientV2``: ``PublishToIoTCore`` / ``SubscribeToIoTCore``.

    The nucleus holds the single MQTT connection of the core device; ``thing`` is therefore only used
    to check nothing is published outside the core's own name when ``machine_id`` is given.
    """

    def __init__(self, ipc_client: Any, *, machine_id: str | None = None) -> None:
        self._ipc = ipc_client
        self._machine_id = machine_id
        self._operations: list[Any] = []

    def _check_thing(self, thing: str) -> None:
        if self._machine_id is not None and thing != self._machine_id:
            raise ConfigurationError(
                f"this core device is {self._machine_id!r}; it cannot publish for {thing!r} over IPC"
            )

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        """``PublishToIoTCore`` with QoS 1; resolves when the nucleus acknowledges the publish."""
        self._check_thing(thing)
        return _chain(self._ipc.publish_to_iot_core_async(topic_name=topic, qos=_QOS_AT_LEAST_ONCE, payload=payload))

    def subscribe(self, thing: str, topic: str, callback: MessageCallback) -> None:
        """``SubscribeToIoTCore`` with QoS 1; the callback runs on the IPC thread."""
        self._check_thing(thing)

        def on_event(event: Any) -> None:
            message = event.message
            callback(str(message.topic_name), bytes(message.payload))

        def on_error(error: Exception) -> bool:
            _log.warning("IoT Core subscription %s failed: %r", topic, error)
            return False  # keep the stream open

        _, operation = self._ipc.subscribe_to_iot_core(
            topic_name=topic, qos=_QOS_AT_LEAST_ONCE, on_stream_event=on_event, on_stream_error=on_error
        )
        self._operations.append(operation)

    def is_connected(self, thing: str) -> bool:
        """Always true: the nucleus queues publishes while it is offline."""
        return True

    def close(self) -> None:
        """Close subscription streams (the IPC client itself belongs to the caller)."""
        for operation in self._operations:
            close = getattr(operation, "close", None)
            if callable(close):
                close()
        self._operations.clear()


@dataclass(frozen=True)
class MqttEndpoint:
    """Where IoT Core (or the local broker) listens and which CA signs its certificate."""

    host: str
    port: int = 8883
    ca_file: Path | None = None
    #: Apply AWS IoT Core's per-connection limits client-side (512 KB/s, 100 publishes/s). Off for the
    #: local broker; on by default for ``*.amazonaws.com`` endpoints.
    iot_core_limits: bool | None = None

    @property
    def applies_iot_core_limits(self) -> bool:
        """Whether the client throttles itself to IoT Core's limits."""
        if self.iot_core_limits is not None:
            return self.iot_core_limits
        return self.host.endswith(".amazonaws.com")


@dataclass(frozen=True)
class MqttIdentity:
    """One client certificate and its key (the thing's device credentials)."""

    client_id: str
    cert_file: Path
    key_file: Path


class MqttLink:
    """One awscrt MQTT5 client with mTLS: reconnects by itself, reports PUBACKs as futures.

    Sessions are clean by default (the spool, not the broker, holds what is unacknowledged);
    ``persistent_session=True`` keeps subscriptions and queued messages across reconnects (the bridge).
    """

    def __init__(
        self,
        endpoint: MqttEndpoint,
        identity: MqttIdentity,
        *,
        on_message: MessageCallback | None = None,
        persistent_session: bool = False,
        receive_maximum: int = 100,
        ack_timeout_s: int = 15,
    ) -> None:
        from awscrt import mqtt5
        from awsiot import mqtt5_client_builder

        for path in (identity.cert_file, identity.key_file, endpoint.ca_file):
            if path is not None and not Path(path).is_file():
                raise ConfigurationError(f"credential file not found: {path}")
        self.identity = identity
        self._mqtt5 = mqtt5
        self._on_message = on_message
        self._connected = threading.Event()
        self._stopped = threading.Event()
        self._subscriptions: dict[str, MessageCallback] = {}
        self._lock = threading.Lock()
        self.connection_count = 0
        session = (
            mqtt5.ClientSessionBehaviorType.REJOIN_ALWAYS
            if persistent_session
            else mqtt5.ClientSessionBehaviorType.CLEAN
        )
        self._client = mqtt5_client_builder.mtls_from_path(
            endpoint=endpoint.host,
            port=endpoint.port,
            cert_filepath=str(identity.cert_file),
            pri_key_filepath=str(identity.key_file),
            ca_filepath=str(endpoint.ca_file) if endpoint.ca_file else None,
            client_id=identity.client_id,
            session_behavior=session,
            session_expiry_interval_sec=86400 if persistent_session else 0,
            keep_alive_interval_sec=30,
            receive_maximum=receive_maximum,
            offline_queue_behavior=mqtt5.ClientOperationQueueBehaviorType.FAIL_ALL_ON_DISCONNECT,
            min_reconnect_delay_ms=100,
            max_reconnect_delay_ms=1000,
            min_connected_time_to_reset_reconnect_delay_ms=1000,
            ack_timeout_sec=ack_timeout_s,
            connack_timeout_ms=3000,
            ping_timeout_ms=3000,
            enable_metrics_collection=False,
            extended_validation_and_flow_control_options=(
                mqtt5.ExtendedValidationAndFlowControlOptions.AWS_IOT_CORE_DEFAULTS
                if endpoint.applies_iot_core_limits
                else mqtt5.ExtendedValidationAndFlowControlOptions.NONE
            ),
            on_publish_received=self._received,
            on_lifecycle_connection_success=self._on_success,
            on_lifecycle_connection_failure=self._on_failure,
            on_lifecycle_disconnection=self._on_disconnect,
            on_lifecycle_stopped=self._on_stopped,
        )

    # -- lifecycle --------------------------------------------------------------------------------
    def _on_success(self, data: Any) -> None:
        self.connection_count += 1
        resumed = bool(getattr(data.connack_packet, "session_present", False))
        self._connected.set()
        with self._lock:
            topics = list(self._subscriptions)
        if topics and not resumed:
            threading.Thread(target=self._resubscribe, args=(topics,), daemon=True).start()

    def _resubscribe(self, topics: list[str]) -> None:
        for topic in topics:
            self._send_subscribe(topic)

    def _on_failure(self, data: Any) -> None:
        self._connected.clear()

    def _on_disconnect(self, data: Any) -> None:
        self._connected.clear()

    def _on_stopped(self, data: Any) -> None:
        self._connected.clear()
        self._stopped.set()

    def start(self) -> MqttLink:
        """Begin connecting (and reconnecting forever until ``stop``)."""
        self._client.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected or ``timeout`` seconds pass."""
        return self._connected.wait(timeout)

    @property
    def connected(self) -> bool:
        """True while the client holds a connection."""
        return self._connected.is_set()

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect and stop reconnecting."""
        self._client.stop()
        self._stopped.wait(timeout)

    # -- messaging --------------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes) -> Future[None]:
        """QoS 1 publish; resolves on a PUBACK with a success reason code."""
        mqtt5 = self._mqtt5
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE)

        def check(result: Any) -> None:
            puback = getattr(result, "puback", None)
            code = int(getattr(puback, "reason_code", 0)) if puback is not None else 0
            if code not in _PUBACK_OK:
                raise PublishError(f"broker refused publish to {topic}: reason code {code}")

        return _chain(self._client.publish(packet), check)

    def subscribe(self, topic: str, callback: MessageCallback, timeout: float = 10.0) -> None:
        """Subscribe with QoS 1 (again after every reconnect without a resumed session)."""
        with self._lock:
            self._subscriptions[topic] = callback
        if self.connected:
            self._send_subscribe(topic, timeout)

    def _send_subscribe(self, topic: str, timeout: float = 10.0) -> None:
        mqtt5 = self._mqtt5
        packet = mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=topic, qos=mqtt5.QoS.AT_LEAST_ONCE)]
        )
        try:
            suback = self._client.subscribe(packet).result(timeout)
        except Exception as exc:  # a failed subscribe is retried on the next connection
            _log.warning("subscribe to %s failed: %r", topic, exc)
            return
        codes = [int(c) for c in suback.reason_codes]
        if any(c > 2 for c in codes):
            raise PublishError(f"broker refused subscription to {topic}: reason codes {codes}")

    def _received(self, data: Any) -> None:
        packet = data.publish_packet
        topic, payload = str(packet.topic), bytes(packet.payload or b"")
        with self._lock:
            callbacks = [cb for flt, cb in self._subscriptions.items() if _matches(flt, topic)]
        handlers = callbacks or ([self._on_message] if self._on_message else [])
        # The client sends the PUBACK when this callback returns: handlers must make the message
        # durable (or act on it) before returning, so an acknowledged message is never lost.
        for handler in handlers:
            if handler is not None:
                handler(topic, payload)


def _matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching (``+`` one level, ``#`` the rest)."""
    f_parts, t_parts = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(f_parts):
        if part == "#":
            return True
        if i >= len(t_parts) or (part != "+" and part != t_parts[i]):
            return False
    return len(f_parts) == len(t_parts)


class DirectMqttTransport:
    """One :class:`MqttLink` per thing, each with that thing's own certificate (outside Greengrass)."""

    def __init__(self, links: Mapping[str, MqttLink]) -> None:
        self._links = dict(links)

    @classmethod
    def connect(
        cls, endpoint: MqttEndpoint, identities: Mapping[str, MqttIdentity], *, wait_s: float = 0.0
    ) -> DirectMqttTransport:
        """Start one link per thing; optionally wait up to ``wait_s`` for all of them to connect."""
        links = {thing: MqttLink(endpoint, identity).start() for thing, identity in identities.items()}
        for link in links.values():
            link.wait_connected(wait_s)
        return cls(links)

    def _link(self, thing: str) -> MqttLink:
        try:
            return self._links[thing]
        except KeyError:
            raise ConfigurationError(f"no MQTT identity configured for thing {thing!r}") from None

    def publish(self, thing: str, topic: str, payload: bytes) -> Future[None]:
        """Publish on ``thing``'s own connection."""
        return self._link(thing).publish(topic, payload)

    def subscribe(self, thing: str, topic: str, callback: MessageCallback) -> None:
        """Subscribe on ``thing``'s own connection."""
        self._link(thing).subscribe(topic, callback)

    def is_connected(self, thing: str) -> bool:
        """True while ``thing``'s connection is up."""
        return self._link(thing).connected

    def close(self) -> None:
        """Stop every link."""
        for link in self._links.values():
            link.stop()
