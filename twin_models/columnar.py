"""Telemetry envelope v3: the same batch of samples, sent as columns, inside the same JWS as v2.

A v2 payload repeats every field name in every sample (a 60-sample envelope is about 17 KB, four 5 KB IoT
messages once base64url-encoded) and is read into one object per sample. A v3 payload carries each field
once, as a column of values, and a column that holds one value for a run of samples (a state, a program,
a tool, a counter between parts) as runs::

    {"v": 3, "machine_id": "cnc-01", "site": "plant-a", "seq": 7, "sent_at": "...Z", "n": 60,
     "t0": "2026-01-05T06:00:00Z", "dt_us": {"rle": [[1000000, 59]]},
     "columns": {"state": {"rle": [[100, 42], [500, 18]]}, "temperature_c": [31.2, 31.25, ...], ...},
     "previous": {<the last sample of seq - 1, as in v2>}}

* ``n`` samples; ``t0`` is the first sample's time (UTC), ``dt_us`` the ``n - 1`` steps from one sample's
  time to the next, in microseconds (negative for a sample sent out of order: the envelope is sorted by
  time, stably, as v2's).
* ``columns`` holds the fields of :class:`~twin_models.telemetry.Sample`, each with that field's own type and
  bounds (read from the model, so every rule stays in one place); a field left out takes the field's
  default in every sample. A column is either a list of ``n`` values or ``{"rle": [[value, count], ...]}``
  whose counts add up to ``n``.
* Nothing else changes: the same JWS (ES256 over the bytes as sent), the protected header with ``cty``
  :data:`CONTENT_TYPE`, the same quarantine reasons, the same content digest (SHA-256 of the payload
  bytes). A gateway that sends v3 sends it during v2's window; ingest reads both.

Reading is vectorised: pydantic-core validates every column's values against their bounds in one pass,
and the columns become numpy arrays (:class:`~twin_models.columns.SampleColumns`) without a ``Sample``
object per sample; those are made from the columns only for a consumer that asks for them.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from twin_models.telemetry import Sample
    >>> t = datetime(2026, 1, 5, 6, tzinfo=UTC)
    >>> rows = [Sample(ts=t + timedelta(seconds=i), state=100, part_count=i // 30) for i in range(60)]
    >>> raw = encode_columns("cnc-01", "plant-a", 7, rows, sent_at=t)
    >>> b'"state":{"rle":[[100,60]]}' in raw, len(raw) < 600
    (True, True)
    >>> envelope = parse_columns(raw, now=t)
    >>> envelope.samples == rows, envelope.columns.part_count.tolist()[28:32]
    (True, [0, 0, 1, 1])
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby, pairwise
from operator import attrgetter, ne
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, with_config
from typing_extensions import TypedDict

from twin_models.construct import assembled, constructed
from twin_models.states import DEFAULT_TAXONOMY, StateTaxonomy
from twin_models.telemetry import (
    MAX_JSON_DEPTH,
    MAX_SAMPLES,
    NAME_PATTERN,
    U64_MAX,
    EnvelopeError,
    Sample,
    TelemetryEnvelope,
    UtcDatetime,
    _key_tokens,
    _model_error,
    _nesting_exceeds,
    strict_json,
)
from twin_models.timestamps import format_utc, from_micros, to_micros

if TYPE_CHECKING:  # numpy is loaded by the parse only: a gateway seals v3 envelopes without it
    import numpy as np
    import numpy.typing as npt

    from twin_models.columns import SampleColumns

__all__ = [
    "CONTENT_TYPE",
    "AnyEnvelope",
    "ColumnarEnvelope",
    "ColumnsPayload",
    "encode_columns",
    "parse_columns",
    "validate_columns",
]

#: The content type in the protected header of a v3 envelope.
CONTENT_TYPE = "vnd.twinledger.telemetry.v3+json"

_ONE_US = timedelta(microseconds=1)
#: The largest step between two samples' times: a day (an envelope spans an hour at 1 Hz).
MAX_STEP_US = 86_400 * 1_000_000

#: The fields sent as columns: every field of a sample but its time, in the model's order.
FIELDS: tuple[str, ...] = tuple(name for name in Sample.model_fields if name != "ts")


def _types(annotation: Any) -> set[Any]:
    """The plain types an annotation admits (``float | None`` -> ``{float, NoneType}``)."""
    found: set[Any] = set()
    for arg in get_args(annotation) or (annotation,):
        found |= _types(get_args(arg)[0]) if get_origin(arg) is Annotated else {arg}
    return found


def _item_type(name: str) -> Any:
    """A column's value type: the sample field's own annotation and bounds."""
    info = Sample.model_fields[name]
    return Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def _column_type(name: str, item: Any) -> Any:
    """A column: a list of values, or ``{"rle": [[value, count], ...]}`` (a typed dict: validated without
    a model instance per column)."""
    rle = list[tuple[item, Annotated[int, Field(ge=1, le=MAX_SAMPLES)]]]
    runs = with_config(ConfigDict(extra="forbid", allow_inf_nan=False))(
        TypedDict(f"Runs_{name}", {"rle": rle})  # type: ignore[operator]
    )
    return Annotated[list[item], Field(max_length=MAX_SAMPLES)] | runs


_Columns = create_model(  # type: ignore[call-overload]
    "Columns",
    __config__=ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False),
    **{name: (_column_type(name, _item_type(name)) | None, None) for name in FIELDS},
)
_Steps = _column_type("dt_us", Annotated[int, Field(ge=-MAX_STEP_US, le=MAX_STEP_US)])


class ColumnsPayload(BaseModel):
    """The v3 payload as sent, validated in one pass by pydantic-core (:func:`validate_columns`); the column
    parse (:func:`parse_columns`) makes the envelope from it."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    v: Literal[3]
    machine_id: Annotated[str, Field(pattern=NAME_PATTERN)]
    site: Annotated[str, Field(pattern=NAME_PATTERN)]
    seq: Annotated[int, Field(ge=0, le=U64_MAX)]
    sent_at: UtcDatetime
    n: Annotated[int, Field(ge=1, le=MAX_SAMPLES)]
    t0: UtcDatetime
    dt_us: _Steps | None = None  # type: ignore[valid-type]
    columns: _Columns
    previous: Sample | None = None


@dataclass(frozen=True, eq=False)
class ColumnarEnvelope:
    """A verified v3 envelope: what a :class:`~twin_models.telemetry.TelemetryEnvelope` offers its readers
    (the header fields, ``previous``, ``columns``, ``samples``, ``first_ts``, ``last_ts``), read from columns.

    ``samples`` are made from the columns on first use."""

    machine_id: str
    site: str
    seq: int
    sent_at: datetime
    previous: Sample | None
    columns: SampleColumns
    v: Literal[3] = 3
    signature: None = None

    @property
    def samples(self) -> list[Sample]:
        """The samples as objects, in time order (made from the columns once, on first use)."""
        return self.columns.samples

    @property
    def first_ts(self) -> datetime:
        """Timestamp of the earliest sample."""
        return from_micros(int(self.columns.ts_us[0]))

    @property
    def last_ts(self) -> datetime:
        """Timestamp of the latest sample."""
        return from_micros(int(self.columns.ts_us[-1]))


#: Either envelope a reader may be handed: v1/v2 (rows) or v3 (columns).
AnyEnvelope = TelemetryEnvelope | ColumnarEnvelope


def _runs(values: Sequence[Any]) -> list[list[Any]]:
    """``[value, count]`` of each run of equal values (a column holds one type, and whole floats are ints)."""
    return [[value, len(list(run))] for value, run in groupby(values)]


def _compact(values: Sequence[Any]) -> list[Any]:
    """Whole floats as ints (``8000`` for ``8000.0``): read back to the same float by the field's type."""
    return [v if v is None or not v.is_integer() or abs(v) >= 2**53 else int(v) for v in values]


def _column(values: Sequence[Any], floats: bool) -> Any:
    """The shorter of a list and its runs (runs when they are fewer than a third of the values)."""
    items = _compact(values) if floats else list(values)
    if (sum(map(ne, items, items[1:])) + 1) * 3 > len(items):  # too many runs: counted at C speed first
        return items
    return {"rle": _runs(items)}


_ROWS = attrgetter("ts", *FIELDS)
#: what a sample holds for a field its envelope leaves out (``state`` has none: it is always sent)
_DEFAULTS = {name: Sample.model_fields[name].default for name in FIELDS}
_FLOAT_FIELDS = frozenset(name for name in FIELDS if float in _types(Sample.model_fields[name].annotation))


def encode_columns(
    machine_id: str,
    site: str,
    seq: int,
    samples: Sequence[Sample],
    sent_at: datetime | None = None,
    previous: Sample | None = None,
) -> bytes:
    """The v3 payload of one envelope, serialised once (compact JSON): what :func:`twin_models.jws.seal_jws`
    signs for ``columns=True``. A field every sample leaves at its default is left out; values are written
    as the sample holds them (``repr`` of a float: exact, and read back to the same float).

    Example:
        >>> from datetime import UTC, datetime
        >>> t = datetime(2026, 1, 5, tzinfo=UTC)
        >>> json.loads(encode_columns("m", "s", 0, [Sample(ts=t, state=100, power_kw=2.5)]))["columns"]
        {'state': [100], 'power_kw': [2.5]}
    """
    if not samples:
        raise ValueError("an envelope holds at least one sample")
    first = samples[0].ts
    times, *fields = zip(*map(_ROWS, samples), strict=True)
    columns: dict[str, Any] = {}
    for name, values in zip(FIELDS, fields, strict=True):
        default = Sample.model_fields[name].default
        if name != "state" and values.count(default) == len(values) and set(map(type, values)) == {type(default)}:
            continue
        columns[name] = _column(values, name in _FLOAT_FIELDS)
    body: dict[str, Any] = {
        "v": 3,
        "machine_id": machine_id,
        "site": site,
        "seq": seq,
        "sent_at": format_utc(sent_at if sent_at is not None else samples[-1].ts),
        "n": len(samples),
        "t0": format_utc(first),
    }
    if len(samples) > 1:
        micros = [(t - first) // _ONE_US for t in times]
        body["dt_us"] = _column([b - a for a, b in pairwise(micros)], False)
    body["columns"] = columns
    if previous is not None:
        body["previous"] = previous.model_dump(mode="json", exclude_none=True)
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def _expand(column: Any) -> list[Any]:
    """A column's values, in the order sent (its length is checked by :func:`_check_length`)."""
    if isinstance(column, list):
        return column
    values: list[Any] = []
    for value, count in column["rle"]:
        values += [value] * count
    return values


def _check_length(name: str, column: Any, n: int) -> None:
    """``schema_violation`` when a column sent holds another number of values than ``n``."""
    if column is None:
        return
    found = len(column) if isinstance(column, list) else sum(count for _, count in column["rle"])
    if found != n:
        raise EnvelopeError("schema_violation", f"{name}: {found} values for {n} samples")


def _run_value(runs: list[tuple[Any, int]], index: int, n: int) -> Any:
    """The value at ``index`` of ``n`` values sent as runs (looked up from the nearer end)."""
    if index < n // 2:
        for value, count in runs:
            if index < count:
                return value
            index -= count
    else:
        left = n - 1 - index
        for value, count in reversed(runs):
            if left < count:
                return value
            left -= count
    raise IndexError(index)


class _Values:
    """Every field's values in time order (Python lists), made from the columns as sent when first asked for:
    the arrays of :class:`~twin_models.columns.SampleColumns` cover what ingest reads; the lists are for the
    readers of ``Sample`` objects."""

    def __init__(self, sent: Any, n: int, order: list[int] | None) -> None:
        self.sent, self.n, self.order = sent, n, order
        self._lists: dict[str, list[Any]] | None = None

    def column(self, name: str) -> list[Any]:
        """One field's values in time order."""
        column = getattr(self.sent, name)
        if column is None:
            return [_DEFAULTS[name]] * self.n
        values = _expand(column)
        return values if self.order is None else [values[i] for i in self.order]

    def at(self, index: int) -> dict[str, Any]:
        """Every field's value in the sample at ``index`` (in time order), without expanding the columns."""
        sent = index if self.order is None else self.order[index]
        found = dict(_DEFAULTS)
        for name in self.sent.model_fields_set:
            column = getattr(self.sent, name)
            if column is None:
                continue
            found[name] = column[sent] if type(column) is list else _run_value(column["rle"], sent, self.n)
        return found

    @property
    def lists(self) -> dict[str, list[Any]]:
        """Every field's values, in :data:`FIELDS` order."""
        if self._lists is None:
            self._lists = {name: self.column(name) for name in FIELDS}
        return self._lists


def _keys_given(payload: ColumnsPayload) -> int:
    count = len(payload.model_fields_set) + len(payload.columns.model_fields_set)
    count += sum(1 for name in payload.columns.model_fields_set if not isinstance(getattr(payload.columns, name), list))
    if payload.dt_us is not None and not isinstance(payload.dt_us, list):
        count += 1
    return count + (len(payload.previous.model_fields_set) if payload.previous is not None else 0)


def validate_columns(raw: bytes) -> ColumnsPayload:
    """The first step of :func:`parse_columns`: the payload's model validation (its types, fields and bounds),
    or :class:`EnvelopeError` with the reason :func:`parse_columns` gives. Ingest runs it over a whole batch
    before the rest of the parse (:meth:`chalicelib.ingest.steps.VerifyStep.run_batch`).

    Example:
        >>> validate_columns(b'{"v": 3, "n": 0}')  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        twin_models.telemetry.EnvelopeError: schema_violation: n: Input should be greater than or equal to 1
    """
    try:
        return ColumnsPayload.model_validate_json(raw)
    except ValidationError as exc:
        # a payload the model holds nests a few levels at most: deep nesting is told only of a refused one
        if _nesting_exceeds(raw, MAX_JSON_DEPTH):
            raise EnvelopeError("malformed_json", f"nested more than {MAX_JSON_DEPTH} levels deep") from None
        raise _model_error(exc) from exc


def parse_columns(
    raw: bytes,
    *,
    now: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    taxonomy: StateTaxonomy | None = DEFAULT_TAXONOMY,
    validated: ColumnsPayload | None = None,
) -> ColumnarEnvelope:
    """The payload of a v3 envelope (its JWS payload bytes, already verified), read strictly: duplicate keys,
    values outside a field's bounds, a column of the wrong length, an unknown state code (with ``taxonomy``)
    and times after ``now + max_future`` are refused with the reason of the v2 parse. ``validated``: the result
    of :func:`validate_columns` for these same bytes, when it was run already.

    Example:
        >>> parse_columns(b'{"v": 3}')  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        twin_models.telemetry.EnvelopeError: schema_violation: machine_id: Field required (7 errors)
    """
    payload = validate_columns(raw) if validated is None else validated
    if _key_tokens(raw) != _keys_given(payload):  # see telemetry.parse_payload: the strict decoder tells
        try:
            strict_json(raw)
        except ValueError as exc:
            raise EnvelopeError("malformed_json", str(exc)) from exc
    n = payload.n
    if payload.dt_us is None and n > 1:
        raise EnvelopeError("schema_violation", f"dt_us: missing, for {n} samples")
    ts_us, in_order, step = _times(to_micros(payload.t0), payload.dt_us, n)
    if vars(payload.columns).get("state") is None:
        raise EnvelopeError("schema_violation", "columns.state: Field required (every sample has a state)")
    sent = payload.columns
    for name in sent.model_fields_set:
        _check_length(name, getattr(sent, name), n)
    order: list[int] | None = None
    if not in_order and bool((ts_us[1:] < ts_us[:-1]).any()):
        by_time = ts_us.argsort(kind="stable")
        ts_us = ts_us[by_time]
        order = by_time.tolist()
    try:
        from_micros(int(ts_us[0]))  # sorted: the earliest and the latest
        from_micros(int(ts_us[-1]))
    except (OverflowError, ValueError) as exc:
        raise EnvelopeError("schema_violation", f"dt_us: a sample time out of range ({exc})") from None
    envelope = assembled(
        ColumnarEnvelope,
        {
            "machine_id": payload.machine_id,
            "site": payload.site,
            "seq": payload.seq,
            "sent_at": payload.sent_at,
            "previous": payload.previous,
            "columns": _columns(ts_us, _Values(sent, n, order), step),
            "v": 3,
            "signature": None,
        },
    )
    _check(envelope, now=now, max_future=max_future, taxonomy=taxonomy)
    return envelope


_KEYS = ("ts", *FIELDS)


def _made(fields: dict[str, Any]) -> Sample:
    """A sample from values already validated, field by field, by the column parse (every field given)."""
    return constructed(Sample, fields)


def _times(base: int, steps: Any, n: int) -> tuple[npt.NDArray[np.int64], bool, int | None]:
    """The samples' times (epoch microseconds) from the first one and the steps as sent; whether no step is
    negative (the times are then in order as sent); and the one step, when every step is that one and in order."""
    import numpy as np

    if steps is None:
        return np.full(1, base, dtype=np.int64), True, None
    if not isinstance(steps, list) and len(steps["rle"]) == 1 and steps["rle"][0][1] == n - 1:  # one step size
        step = steps["rle"][0][0]
        return _ramp(step, n) + base, step >= 0, step if step >= 0 else None
    _check_length("dt_us", steps, n - 1)
    values = _expand(steps)
    ts_us = np.empty(n, dtype=np.int64)
    ts_us[0] = 0
    np.cumsum(np.array(values, dtype=np.int64), out=ts_us[1:])
    ts_us += base
    return ts_us, min(values) >= 0, None


@functools.lru_cache(maxsize=256)
def _ramp(step: int, n: int) -> npt.NDArray[np.int64]:
    """``0, step, 2 step, ...`` (``n`` values), read-only: the offsets of evenly sampled times."""
    import numpy as np

    ramp = np.arange(n, dtype=np.int64) * step
    ramp.setflags(write=False)
    return ramp


#: Read-only columns of equal values, shared by every envelope that sends them, by (value, its type, count,
#: dtype): most columns of a minute hold one value (a state, a program, a counter between parts) or are left out.
_CONSTANTS: dict[tuple[Any, str, int, str], npt.NDArray[Any]] = {}
_MAX_CONSTANTS = 4096

#: The arrays of :class:`~twin_models.columns.SampleColumns`: the attribute, the sample field, the dtype.
_ARRAYS = (
    ("state", "state", "int64"),
    ("part_count", "part_count", "uint64"),
    ("reject_count", "reject_count", "uint64"),
    ("power_kw", "power_kw", "float64"),
    ("alarm_code", "alarm_code", "uint64"),
    ("vibration", "vibration_rms_mm_s", "float64"),
    ("temperature", "temperature_c", "float64"),
    ("program", "program", "object"),
    ("ideal", "ideal_cycle_time_s", "float64"),
    ("spindle_load", "spindle_load_pct", "float64"),
    ("spindle_speed", "spindle_speed_rpm", "float64"),
)


#: the fields a sample may leave empty (``None``: NaN in a float array)
_NULLABLE = frozenset(name for name in FIELDS if type(None) in _types(Sample.model_fields[name].annotation))
_DTYPES: dict[str, Any] = {}


def _columns(ts_us: npt.NDArray[np.int64], values: _Values, step_us: int | None = None) -> SampleColumns:
    """The envelope's arrays: a column sent as one run, or left out, is a shared read-only array (and named in
    ``uniform``); any other is made from its values."""
    import numpy as np

    from twin_models.columns import SampleColumns

    def row(index: int) -> Sample:
        return _made({"ts": from_micros(int(ts_us[index])), **values.at(index)})

    def rows() -> list[Sample]:
        times = map(from_micros, ts_us.tolist())
        lists = values.lists.values()
        return [_made(dict(zip(_KEYS, row, strict=True))) for row in zip(times, *lists, strict=True)]

    n, sent = values.n, values.sent
    if not _DTYPES:
        _DTYPES.update((name, np.dtype(name)) for _, _, name in _ARRAYS)
    arrays: dict[str, Any] = {}
    uniform: list[str] = []
    for key, name, dtype in _ARRAYS:
        column = getattr(sent, name)
        if column is None:
            one = _DEFAULTS[name]
        elif type(column) is list and n == 1:
            one = column[0]
        elif type(column) is list or len(column["rle"]) != 1:
            found = values.column(name)
            if name in _NULLABLE and None in found:
                found = [np.nan if v is None else v for v in found]
            arrays[key] = np.array(found, dtype=_DTYPES[dtype])
            continue
        else:
            one = column["rle"][0][0]
        uniform.append(key)
        cache_key = (one, type(one).__name__, n, dtype)
        negative_zero = type(one) is float and one == 0 and math.copysign(1.0, one) < 0  # a key equal to 0.0's
        array = None if negative_zero else _CONSTANTS.get(cache_key)
        if array is None:
            array = np.full(n, np.nan if one is None else one, dtype=dtype)
            array.setflags(write=False)
            if not negative_zero:
                if len(_CONSTANTS) >= _MAX_CONSTANTS:
                    _CONSTANTS.clear()
                _CONSTANTS[cache_key] = array
        arrays[key] = array
    arrays.update(ts_us=ts_us, given=None, row=row, rows=rows, uniform=frozenset(uniform), step_us=step_us)
    return assembled(SampleColumns, arrays)


def _check(
    envelope: ColumnarEnvelope, *, now: datetime | None, max_future: timedelta, taxonomy: StateTaxonomy | None
) -> None:
    """The v2 parse's state-code and clock rules, over the columns."""
    if taxonomy is not None:
        states = envelope.columns.state
        codes = {int(states[0])} if "state" in envelope.columns.uniform else set(states.tolist())
        unknown = [code for code in sorted(codes) if not taxonomy.knows(code)]
        if unknown:
            raise EnvelopeError(
                "schema_violation",
                f"columns.state.{states.tolist().index(unknown[0])}: {unknown[0]} is not a state code of the taxonomy",
            )
    limit = (now or datetime.now(UTC)) + max_future
    latest = max(envelope.last_ts, envelope.sent_at)
    if latest > limit:
        raise EnvelopeError("future_timestamp", f"timestamp {format_utc(latest)} is after {format_utc(limit)}")
