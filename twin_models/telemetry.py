"""Telemetry envelope v1: what a gateway publishes, signed, once per batch of 1 Hz samples.

An envelope carries one thing's consecutive samples, a per-thing monotonic ``seq``
(the dedup key downstream, together with the thing name) and a signature block made
at the gateway over the envelope's canonical JSON form (RFC 8785, see
:mod:`twin_models.signing`).

Example:
    >>> from datetime import datetime, timezone
    >>> s = Sample(ts=datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc), state=100,
    ...            spindle_speed_rpm=8000, part_count=12)
    >>> env = TelemetryEnvelope(machine_id="cnc-01", site="plant-a", seq=0,
    ...                         sent_at=s.ts, samples=[s])
    >>> topic_for(env.site, env.machine_id)
    'dt/twinledger/plant-a/cnc-01/telemetry'
    >>> env.to_wire()["samples"][0]["ts"]
    '2026-01-05T06:00:00Z'
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import cached_property
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    model_validator,
)

from twin_models.errors import TwinModelsError
from twin_models.states import DEFAULT_TAXONOMY, StateTaxonomy
from twin_models.timestamps import format_utc

if TYPE_CHECKING:
    from twin_models.columns import SampleColumns

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "MAX_SAMPLES",
    "NAME_PATTERN",
    "U64_MAX",
    "EnvelopeError",
    "QuarantineReason",
    "Sample",
    "Signature",
    "TelemetryEnvelope",
    "UtcDatetime",
    "check_states",
    "parse_envelope",
    "parse_payload",
    "strict_json",
    "topic_for",
]

#: AWS IoT Core's largest MQTT payload.
MAX_ENVELOPE_BYTES = 128 * 1024
#: One hour at 1 Hz: a gateway that buffered longer sends several envelopes.
MAX_SAMPLES = 3600
#: Thing names and sites: what AWS IoT accepts as a thing name.
NAME_PATTERN = r"^[A-Za-z0-9_:\-]{1,128}$"

QuarantineReason = Literal[
    "oversized",
    "malformed_json",
    "schema_violation",
    "unsigned",
    "unknown_key",
    "bad_signature",
    "future_timestamp",
    "thing_mismatch",
    "conflicting_duplicate",
    "v1_retired",
]

#: Counters and ``seq`` are unsigned 64-bit on every controller and store we know; a larger value is refused.
U64_MAX = 2**64 - 1


def _require_aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a time zone (use Z for UTC)")
    return _utc(value)


#: A timezone-aware datetime, normalised to UTC, serialised as ``...Z``.
UtcDatetime = Annotated[
    datetime,
    AfterValidator(_require_aware_utc),
    PlainSerializer(format_utc, return_type=str, when_used="json"),
]


#: A sample's time: timezone-aware, checked inside the parser (pydantic-core) at no Python cost per sample;
#: the envelope normalises its samples to UTC once they are all parsed (``TelemetryEnvelope._in_utc``).
SampleTime = Annotated[AwareDatetime, PlainSerializer(format_utc, return_type=str, when_used="json")]


def _utc(value: datetime) -> datetime:
    """``value`` in UTC (itself if it already is): the one conversion of :data:`UtcDatetime` and the envelope."""
    if value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 has no UTC form
        raise ValueError(f"timestamp {value.isoformat()} is out of range once converted to UTC") from None


class EnvelopeError(TwinModelsError):
    """An envelope that cannot be accepted; ``reason`` is the quarantine reason code."""

    def __init__(self, reason: QuarantineReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: QuarantineReason = reason
        self.detail = detail


class Sample(BaseModel):
    """One 1 Hz reading of a machine. Counters are cumulative as the controller reports them; every number
    is finite (``NaN`` and infinities are refused) and counters fit in 64 bits."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    ts: Annotated[SampleTime, Field(description="aware; in UTC (offset zero) once its envelope is validated")]
    state: Annotated[int, Field(ge=0, le=9999, description="machine state code, see twin_models.states")]
    spindle_speed_rpm: Annotated[float, Field(ge=0)] = 0.0
    feed_rate_mm_min: Annotated[float, Field(ge=0)] = 0.0
    spindle_load_pct: Annotated[float, Field(ge=0, le=1000)] = 0.0
    spindle_current_a: Annotated[float | None, Field(ge=0)] = None
    vibration_rms_mm_s: Annotated[float, Field(ge=0)] = 0.0
    temperature_c: Annotated[float, Field(ge=-50, le=400)] = 20.0
    power_kw: Annotated[float, Field(ge=0)] = 0.0
    part_count: Annotated[int, Field(ge=0, le=U64_MAX)] = 0
    reject_count: Annotated[int, Field(ge=0, le=U64_MAX)] = 0
    tool_id: Annotated[str, Field(max_length=64)] = ""
    tool_wear_pct: Annotated[float, Field(ge=0, le=200)] = 0.0
    program: Annotated[str, Field(max_length=64)] = ""
    alarm_code: Annotated[int, Field(ge=0, le=U64_MAX)] = 0
    ideal_cycle_time_s: Annotated[float, Field(gt=0, le=86400)] | None = Field(
        default=None,
        description="the ideal cycle time (s per part) in effect for this sample's program, as the gateway "
        "applied it from the config shadow; OEE rates the parts made under it with this value",
    )
    order_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="the production order in effect, as the gateway applied it from the config shadow"
    )
    material_lot: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="the material lot in effect (config shadow), carried onto every part made"
    )
    product: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="the product number in effect (config shadow)"
    )


class Signature(BaseModel):
    """The gateway's signature over the envelope's canonical form (without this block)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alg: Literal["ES256"] = "ES256"
    key_id: Annotated[str, Field(min_length=1, max_length=128)]
    sig: Annotated[str, Field(min_length=16, max_length=256, description="base64url of raw r||s")]


class TelemetryEnvelope(BaseModel):
    """A signed batch of one thing's samples.

    Schema version 1 carries its ``signature`` block inside (ES256 over the RFC 8785 form); version 2 is the
    payload of a JWS (:mod:`twin_models.jws`) and carries none: the signature is over its bytes as sent.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1, 2] = 1
    machine_id: Annotated[str, Field(pattern=NAME_PATTERN)]
    site: Annotated[str, Field(pattern=NAME_PATTERN)]
    seq: Annotated[int, Field(ge=0, le=U64_MAX, description="per-machine monotonic batch number")]
    sent_at: UtcDatetime
    samples: Annotated[list[Sample], Field(min_length=1, max_length=MAX_SAMPLES)]
    previous: Sample | None = Field(
        default=None,
        description="the last sample of envelope seq - 1, as the gateway sealed it: counters and alarm edges "
        "across the boundary are then metered from this envelope alone, in whatever order envelopes arrive",
    )
    signature: Signature | None = None

    @model_validator(mode="after")
    def _in_utc(self) -> TelemetryEnvelope:
        """Every sample's time in UTC: one pass per envelope instead of a validator call per sample. A time
        sent with ``Z`` is already UTC (offset zero) and stays as parsed; another offset is converted (the
        samples are frozen, so the converted value is stored the way pydantic stores a field)."""
        for index, sample in enumerate(self.samples):
            if sample.ts.utcoffset():
                try:
                    sample.__dict__["ts"] = _utc(sample.ts)
                except ValueError as exc:
                    raise ValueError(f"samples.{index}.ts: {exc}") from None
        if self.previous is not None and self.previous.ts.utcoffset():
            try:
                self.previous.__dict__["ts"] = _utc(self.previous.ts)
            except ValueError as exc:
                raise ValueError(f"previous.ts: {exc}") from None
        return self

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict as published (``None`` fields omitted)."""
        return self.model_dump(mode="json", exclude_none=True)

    def unsigned_wire(self) -> dict[str, Any]:
        """The dict the signature covers: the wire form without ``signature``."""
        body = self.to_wire()
        body.pop("signature", None)
        return body

    @cached_property
    def columns(self) -> SampleColumns:
        """The samples as typed arrays in time order, read once (:mod:`twin_models.columns`): history and
        metering both work from them. (numpy is loaded here, on first use: the gateway, which builds and
        seals envelopes but never reads their columns, runs without it.)"""
        from twin_models.columns import sample_columns

        return sample_columns(self.samples)

    @property
    def first_ts(self) -> datetime:
        """Timestamp of the earliest sample."""
        return min(s.ts for s in self.samples)

    @property
    def last_ts(self) -> datetime:
        """Timestamp of the latest sample."""
        return max(s.ts for s in self.samples)


def topic_for(site: str, machine_id: str) -> str:
    """The MQTT topic a thing's gateway publishes telemetry on."""
    return f"dt/twinledger/{site}/{machine_id}/telemetry"


class _NotRepresentable(ValueError):
    """A JSON value the envelope cannot carry (raised from inside the decoder's hooks)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):  # a signature over an ambiguous document must not verify
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _NotRepresentable(f"duplicate key {key!r}")
            seen.add(key)
    return found


def _no_constant(name: str) -> Any:
    raise _NotRepresentable(f"{name} is not a JSON number")


def strict_json(raw: bytes | str) -> Any:
    """Decode JSON refusing what no envelope may hold: duplicate keys, ``NaN``/``Infinity``, and nesting
    deeper than the decoder allows. (Numbers the models cannot hold — ``1e999``, integers beyond 64 bits —
    are refused by the models' bounds, which is where they are named: ``allow_inf_nan=False``, ``U64_MAX``.)

    Raises ``ValueError`` (a :class:`json.JSONDecodeError` for bad syntax) with the reason.

    Example:
        >>> strict_json('{"seq": 1, "seq": 2}')
        Traceback (most recent call last):
        ...
        twin_models.telemetry._NotRepresentable: duplicate key 'seq'
        >>> strict_json('[NaN]')
        Traceback (most recent call last):
        ...
        twin_models.telemetry._NotRepresentable: NaN is not a JSON number
    """
    data = raw.encode() if isinstance(raw, str) else raw
    if _nesting_exceeds(data, MAX_JSON_DEPTH):  # checked before parsing: never up to the recursion limit
        raise _NotRepresentable(f"nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise _NotRepresentable("nested too deeply") from None


#: The deepest bracket nesting a document may have (an envelope nests 3 levels).
MAX_JSON_DEPTH = 32
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def _nesting_exceeds(data: bytes, limit: int) -> bool:
    """True when brackets nest deeper than ``limit`` (counted over the bytes, inside strings too: an
    envelope never nests more than a few levels, so a string of brackets only makes its own record refused).
    The check is independent of Python's recursion limit, which some libraries raise to 100,000."""
    depth = 0
    for c in data.translate(None, _NOT_BRACKETS):
        if c == 91 or c == 123:  # [ {
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def parse_payload(
    raw: bytes,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    taxonomy: StateTaxonomy | None = DEFAULT_TAXONOMY,
) -> TelemetryEnvelope:
    """The payload of a v2 envelope (its JWS payload bytes, already verified): the same strict rules as
    :func:`parse_envelope`, ``v`` must be 2 and no ``signature`` block may be inside.

    Example:
        >>> parse_payload(b'{"v": 1}')  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        twin_models.telemetry.EnvelopeError: schema_violation: v: a JWS payload is envelope version 2
    """
    if _nesting_exceeds(raw, MAX_JSON_DEPTH):
        raise EnvelopeError("malformed_json", f"nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        envelope = TelemetryEnvelope.model_validate_json(raw)  # parsed and validated in one pass (pydantic-core)
    except ValidationError as exc:
        raise _model_error(exc) from exc
    # The fast parser keeps the last of duplicate keys. Every key is a model field (extra="forbid"), so the
    # fields set count the distinct keys; fewer than the key tokens in the bytes means a duplicate, or a
    # '":' inside a string: the strict decoder then tells which.
    if _key_tokens(raw) != _keys_given(envelope):
        try:
            strict_json(raw)
        except ValueError as exc:
            raise EnvelopeError("malformed_json", str(exc)) from exc
    if envelope.v != 2 or envelope.signature is not None:
        raise EnvelopeError("schema_violation", "v: a JWS payload is envelope version 2, with no signature block")
    _check_states_and_clock(envelope, now=now, max_future=max_future, taxonomy=taxonomy)
    return envelope


_KEY_TOKEN = re.compile(rb'"\s*:')


def _key_tokens(raw: bytes) -> int:
    """At least the number of keys in ``raw``: every key's closing quote followed (after any whitespace) by
    a colon. Without whitespace bytes anywhere (a gateway's compact JSON), counting ``":`` is that bound at
    C speed; otherwise the regular expression allows for the whitespace."""
    if b" " in raw or b"\n" in raw or b"\r" in raw or b"\t" in raw:
        return len(_KEY_TOKEN.findall(raw))
    return raw.count(b'":')


_FIELDS_SET = attrgetter("model_fields_set")


def _keys_given(envelope: TelemetryEnvelope) -> int:
    count = len(envelope.model_fields_set) + sum(map(len, map(_FIELDS_SET, envelope.samples)))
    return count + (len(envelope.previous.model_fields_set) if envelope.previous is not None else 0)


def parse_envelope(
    raw: bytes | str,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    max_bytes: int = MAX_ENVELOPE_BYTES,
    taxonomy: StateTaxonomy | None = DEFAULT_TAXONOMY,
) -> tuple[TelemetryEnvelope, dict[str, Any]]:
    """Parse and validate one envelope; raise :class:`EnvelopeError` with the quarantine reason.

    Returns the model and the decoded JSON object (the signature is checked over the latter,
    so what was signed is what is verified, independent of model defaults). The JSON is decoded strictly
    (:func:`strict_json`); a sample whose state code the plant's ``taxonomy`` does not know is a
    ``schema_violation`` (the record is quarantined, never half-ingested).
    Signature checks are :func:`twin_models.signing.verify_envelope`'s job.

    Example:
        >>> parse_envelope(b"{not json")  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        twin_models.telemetry.EnvelopeError: malformed_json: Expecting property name enclosed in double quotes
    """
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise EnvelopeError("oversized", f"{size} bytes exceeds the {max_bytes}-byte limit")
    envelope, doc = _parse_strict(raw, now=now, max_future=max_future, taxonomy=taxonomy)
    if envelope.v != 1:
        raise EnvelopeError("schema_violation", "v: version 2 envelopes are sent as a JWS, not as JSON")
    if envelope.signature is None:
        raise EnvelopeError("unsigned", "envelope carries no signature block")
    return envelope, doc


def _parse_strict(
    raw: bytes | str, *, now: datetime | None, max_future: timedelta, taxonomy: StateTaxonomy | None
) -> tuple[TelemetryEnvelope, dict[str, Any]]:
    """The one strict parse of an envelope document: JSON, model, taxonomy, clock."""
    try:
        doc = strict_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError("malformed_json", str(exc)) from exc
    if not isinstance(doc, dict):
        raise EnvelopeError("malformed_json", f"expected a JSON object, got {type(doc).__name__}")
    try:
        envelope = TelemetryEnvelope.model_validate(doc)
    except ValidationError as exc:
        raise _model_error(exc) from exc
    _check_states_and_clock(envelope, now=now, max_future=max_future, taxonomy=taxonomy)
    return envelope, doc


def _model_error(exc: ValidationError) -> EnvelopeError:
    """The quarantine reason of a model's refusal: the first error's field path and message."""
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return EnvelopeError("malformed_json", str(first["msg"]))
    where = ".".join(str(p) for p in first["loc"])
    return EnvelopeError("schema_violation", f"{where}: {first['msg']} ({exc.error_count()} errors)")


def check_states(envelope: TelemetryEnvelope, taxonomy: StateTaxonomy) -> None:
    """Refuse an envelope with a sample whose state code the plant's ``taxonomy`` does not know
    (``schema_violation``, naming the first such sample). The parsers run it; a caller that learns the
    plant only from the parsed envelope (v1: the machine is named inside) parses with ``taxonomy=None`` and
    runs it then.

    Example:
        >>> from datetime import UTC, datetime
        >>> from twin_models.states import StateCategory, StateTaxonomy
        >>> t = datetime(2026, 1, 5, 6, tzinfo=UTC)
        >>> e = TelemetryEnvelope(machine_id="m", site="s", seq=0, sent_at=t, samples=[Sample(ts=t, state=1500)])
        >>> check_states(e, StateTaxonomy(overrides={1500: StateCategory.IDLE}))
        >>> check_states(e, DEFAULT_TAXONOMY)
        Traceback (most recent call last):
        ...
        twin_models.telemetry.EnvelopeError: schema_violation: samples.0.state: 1500 is not a state code of the taxonomy
    """
    if not all(taxonomy.knows(code) for code in {sample.state for sample in envelope.samples}):
        for index, sample in enumerate(envelope.samples):  # name the first sample that has an unknown code
            if not taxonomy.knows(sample.state):
                raise EnvelopeError(
                    "schema_violation", f"samples.{index}.state: {sample.state} is not a state code of the taxonomy"
                )


def _check_states_and_clock(
    envelope: TelemetryEnvelope, *, now: datetime | None, max_future: timedelta, taxonomy: StateTaxonomy | None
) -> None:
    if taxonomy is not None:
        check_states(envelope, taxonomy)
    limit = (now or datetime.now(UTC)) + max_future
    latest = max(envelope.last_ts, envelope.sent_at)
    if latest > limit:
        raise EnvelopeError("future_timestamp", f"timestamp {format_utc(latest)} is after {format_utc(limit)}")
