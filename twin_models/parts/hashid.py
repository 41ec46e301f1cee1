"""The CBV 2.0 Event Hash ID of an EPCIS event: ``ni:///sha-256;<hex>?ver=CBV2.0``.

CBV 2.0 (section 8.9) fingerprints an event by a *pre-hash string*: the event's type, then its standard
fields in a fixed order as ``name=value`` (lists by their elements' strings sorted, nested structures as
their names followed by their own fields in order), then every other field (user extensions such as
``ilmd``) by name, sorted; times in UTC at millisecond precision, numbers without needless zeros,
vocabulary as the full web URI, GS1 keys as canonical GS1 Digital Link URIs. ``recordTime``, ``eventID``
and ``errorDeclaration`` take no part. The SHA-256 of the string's UTF-8 bytes is the id.

This module computes it for the events the project writes (:mod:`twin_models.parts.epcis`): ObjectEvents
with ``epcList``, ``action``, ``bizStep``, ``disposition``, ``readPoint``, ``bizLocation``,
``sensorElementList`` and ``ilmd``. The tests compare it with GS1's reference implementation
(``epcis-event-hash-generator``) over every event type and generated values.

Example:
    >>> event = {"type": "ObjectEvent", "eventTime": "2026-01-05T06:00:30.000Z", "eventTimeZoneOffset": "+00:00",
    ...          "epcList": ["urn:twinledger:part:cnc-01:1767592830000:42"], "action": "OBSERVE"}
    >>> pre_hash(event)[:60]
    'eventType=ObjectEventeventTime=2026-01-05T06:00:30.000Zevent'
    >>> event_hash_id(event).startswith("ni:///sha-256;"), event_hash_id(event).endswith("?ver=CBV2.0")
    (True, True)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from twin_models.parts.identity import gs1_check_digit

__all__ = ["CBV_VOCABULARY", "canonical_value", "declare_namespaces", "event_hash_id", "pre_hash"]

#: The bare CBV and GS1 words the project's events use, and the web URIs they stand for (the EPCIS 2.0
#: JSON-LD context's expansion of ``bizStep``, ``disposition`` and a sensor report's ``type``).
CBV_VOCABULARY: dict[str, dict[str, str]] = {
    "bizStep": {w: f"https://ref.gs1.org/cbv/BizStep-{w}" for w in ("commissioning", "inspecting")},
    "disposition": {w: f"https://ref.gs1.org/cbv/Disp-{w}" for w in ("active", "conformant", "non_conformant")},
    "type": {w: f"https://gs1.org/voc/{w}" for w in ("Dimensionless", "Speed", "Temperature", "Energy", "Length")},
}

_SENSOR_METADATA = (
    "time",
    "startTime",
    "endTime",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "bizRules",
)
_SENSOR_REPORT = (
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
)
_ORDER = (
    "eventTime",
    "eventTimeZoneOffset",
    "certificationInfo",
    "parentID",
    "epcList",
    "inputEPCList",
    "childEPCs",
    "quantityList",
    "childQuantityList",
    "inputQuantityList",
    "outputEPCList",
    "outputQuantityList",
    "action",
    "transformationID",
    "bizStep",
    "disposition",
    "persistentDisposition",
    "readPoint",
    "bizLocation",
    "bizTransactionList",
    "sourceList",
    "destinationList",
    "sensorElementList",
)
_IGNORED = frozenset({"recordTime", "eventID", "type", "errorDeclaration", "@context"})
_SUPPORTED = frozenset(
    {
        "eventTime",
        "eventTimeZoneOffset",
        "epcList",
        "action",
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "sensorElementList",
    }
)
_SGTIN = re.compile(r"^urn:epc:id:sgtin:(\d{6,12})\.(\d{1,7})\.(.{1,20})$")


def declare_namespaces(context: Sequence[Any]) -> dict[str, str]:
    """The ``prefix -> IRI`` declarations of a document's ``@context`` list (its objects)."""
    found: dict[str, str] = {}
    for entry in context:
        if isinstance(entry, Mapping):
            found.update({str(k): str(v) for k, v in entry.items()})
    return found


_MS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _time(text: str) -> str:
    if _MS_UTC.match(text):  # already UTC at millisecond precision: its own canonical form
        return text
    value = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    value = value.replace(microsecond=round(value.microsecond, -3))
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def _number(text: str) -> str:
    try:
        number = float(text)
    except ValueError:
        return text
    if number != number or number in (float("inf"), float("-inf")):
        return text
    return str(int(number)) if int(number) == number else str(number)


def _gs1_key(text: str) -> str:
    """A GS1 SGTIN EPC URI as its canonical Digital Link; other text unchanged."""
    found = _SGTIN.match(text)
    if found is None or len(found.group(1)) + len(found.group(2)) != 13:
        return text
    prefix, item, serial = found.groups()
    raw = item[0] + prefix + item[1:]
    return f"https://id.gs1.org/01/{raw}{gs1_check_digit(raw)}/21/{serial}"


def canonical_value(name: str, value: Any) -> str:
    """The canonical text of one field's value (``name`` decides whether it is a time).

    Example:
        >>> canonical_value("eventTime", "2026-01-05T07:00:30.1234+01:00"), canonical_value("value", 12.50)
        ('2026-01-05T06:00:30.123Z', '12.5')
    """
    text = str(value).strip()
    if "time" in name.lower() and "offset" not in name.lower():
        return _time(text)
    return _gs1_key(_number(text))


def _field(name: str, value: Any) -> str:
    text = canonical_value(name, value)
    return f"{name}={text}" if text else ""


def _ordered(fields: Mapping[str, Any], order: Sequence[str], vocabulary: str = "") -> str:
    parts = []
    for name in order:
        if name not in fields:
            continue
        value = fields[name]
        if name == "type" and vocabulary:
            value = CBV_VOCABULARY["type"].get(str(value), value)
        parts.append(_field(name, value))
    return "".join(parts)


def _sensor_element(element: Mapping[str, Any]) -> str:
    text = ""
    metadata = element.get("sensorMetadata")
    if metadata:
        inner = _ordered(metadata, _SENSOR_METADATA)
        text += f"sensorMetadata{inner}" if inner else ""
    reports = sorted(f"sensorReport{_ordered(r, _SENSOR_REPORT, 'type')}" for r in element.get("sensorReport", ()))
    return "sensorElement" + text + "".join(r for r in reports if r != "sensorReport")


def _extension_key(key: str, namespaces: Mapping[str, str]) -> str:
    prefix, _, local = key.partition(":")
    if local and prefix in namespaces:
        return "{" + namespaces[prefix] + "}" + local
    return key


def _extensions(event: Mapping[str, Any], namespaces: Mapping[str, str]) -> str:
    """The fields outside the standard order (here: ``ilmd``), by name, sorted."""
    out = []
    for key, value in event.items():
        if key in _IGNORED or key in _SUPPORTED:
            continue
        if not isinstance(value, Mapping):
            raise ValueError(f"the project's events carry no extension field like {key!r}")
        inner = sorted(f"{_extension_key(k, namespaces)}={canonical_value(k, v)}" for k, v in value.items())
        out.append(key + "".join(inner))
    return "".join(sorted(out))


def pre_hash(event: Mapping[str, Any], namespaces: Mapping[str, str] | None = None) -> str:
    """The CBV 2.0 pre-hash string of one event (``namespaces``: the extension prefixes its document declares)."""
    text = f"eventType={event['type']}"
    for name in _ORDER:
        if name not in event:
            continue
        value = event[name]
        if name in ("epcList",):
            text += "epcList" + "".join(sorted(f"epc={canonical_value('epc', v)}" for v in value))
        elif name in ("bizStep", "disposition"):
            text += _field(name, CBV_VOCABULARY[name].get(str(value), value))
        elif name in ("readPoint", "bizLocation"):
            text += f"{name}id={canonical_value('id', value['id'])}"
        elif name == "sensorElementList":
            text += "sensorElementList" + "".join(sorted(_sensor_element(e) for e in value))
        elif name in _SUPPORTED:
            text += _field(name, value)
        else:
            raise ValueError(f"the project's events carry no field {name!r}")
    return text + _extensions(event, namespaces or {})


def event_hash_id(event: Mapping[str, Any], namespaces: Mapping[str, str] | None = None) -> str:
    """The event's CBV 2.0 Event Hash ID (SHA-256)."""
    digest = hashlib.sha256(pre_hash(event, namespaces).encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"
