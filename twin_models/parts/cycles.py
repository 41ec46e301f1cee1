"""Production cycles from signed telemetry, derived incrementally: what each envelope holds of its cycles.

The rules, stated once:

* A **cycle** ends at a *part step*: a sample whose ``part_count`` is above the reading before it (or, after
  a controller reset, any reading below it: :func:`twin_models.counters.counter_delta`). A step of ``d``
  makes ``d`` parts, counted ``before + 1 .. after`` (after a reset ``1 .. after``).
* The cycle's samples are those after the previous step's sample, up to and including its own step; it
  starts at the previous step's instant. The very first cycle of a machine's history (envelope ``seq 0``)
  starts at its first sample.
* A *reject step* (``reject_count`` rising) among a cycle's samples marks that cycle's parts
  non-conforming, the last ones first when one step made several parts.
* The sample before an envelope's first is the envelope's ``previous`` (set by the gateway), else the last
  sample of envelope ``seq - 1``. A cycle whose start cannot be known yet (an envelope before it is missing)
  is not derived until the missing envelope arrives.

Each envelope is reduced once to a :class:`Piece` (its samples' statistics between steps); the pieces of a
contiguous run of ``seq`` are scanned by :func:`scan` into :class:`Cycle` s. A cycle depends only on the
pieces from its previous step to its own (:attr:`Cycle.basis`): its evidence, and, when its start is a step
at the first sample of an envelope without ``previous``, the envelope before, whose last sample that step
is found against. Whichever order envelopes arrive in, and however often, the same cycles come out:
:func:`run_around` says which stored pieces a new piece must be scanned with, and :func:`touching` which of
the cycles found depend on it.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> from twin_models.telemetry import Sample, TelemetryEnvelope
    >>> t = datetime(2026, 1, 5, 6, tzinfo=UTC)
    >>> samples = [Sample(ts=t + timedelta(seconds=i), state=100, part_count=i // 3) for i in range(10)]
    >>> env = TelemetryEnvelope(machine_id="m", site="s", seq=0, sent_at=t, samples=samples)
    >>> [(c.counts, c.cycle_time_s) for c in scan([piece_of(env, "0xab")])]
    [((1,), 3.0), ((2,), 3.0), ((3,), 3.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from twin_models.columnar import AnyEnvelope
from twin_models.counters import counter_delta
from twin_models.telemetry import Sample, UtcDatetime

__all__ = ["Context", "Cycle", "Piece", "Span", "Stat", "Step", "piece_of", "run_around", "scan", "touching"]


class Stat(BaseModel):
    """Minimum, mean and maximum of one quantity over a cycle's samples."""

    model_config = ConfigDict(frozen=True)

    min: float
    mean: float
    max: float


class Span(BaseModel):
    """Running statistics of consecutive samples: sums, so that two spans merge exactly."""

    model_config = ConfigDict(frozen=True)

    n: int = 0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)  # min, sum, max
    vibration: tuple[float, float, float] = (0.0, 0.0, 0.0)
    temperature: tuple[float, float, float] = (0.0, 0.0, 0.0)
    energy_kwh: float = 0.0
    rejects: int = 0
    seqs: tuple[int, ...] = ()

    def merge(self, other: Span) -> Span:
        """The statistics of this span followed by ``other``."""
        if self.n == 0:
            return other.model_copy(update={"rejects": self.rejects + other.rejects, "seqs": _union(self, other)})
        if other.n == 0:
            return self.model_copy(update={"rejects": self.rejects + other.rejects, "seqs": _union(self, other)})
        return Span.model_construct(  # both sides are valid spans: nothing to check again
            n=self.n + other.n,
            load=_merge3(self.load, other.load),
            vibration=_merge3(self.vibration, other.vibration),
            temperature=_merge3(self.temperature, other.temperature),
            energy_kwh=self.energy_kwh + other.energy_kwh,
            rejects=self.rejects + other.rejects,
            seqs=_union(self, other),
        )

    def stat(self, which: str) -> Stat:
        """``load``, ``vibration`` or ``temperature`` as min, mean and max (rounded to 6 places)."""
        lo, total, hi = getattr(self, which)
        return Stat(min=round(lo, 6), mean=round(total / self.n, 6) if self.n else 0.0, max=round(hi, 6))


def _union(a: Span, b: Span) -> tuple[int, ...]:
    return tuple(sorted(set(a.seqs) | set(b.seqs)))


def _merge3(a: tuple[float, float, float], b: tuple[float, float, float]) -> tuple[float, float, float]:
    return min(a[0], b[0]), a[1] + b[1], max(a[2], b[2])


def _span_of(sample: Sample, seq: int, interval_s: float) -> Span:
    return Span(
        n=1,
        load=(sample.spindle_load_pct, sample.spindle_load_pct, sample.spindle_load_pct),
        vibration=(sample.vibration_rms_mm_s, sample.vibration_rms_mm_s, sample.vibration_rms_mm_s),
        temperature=(sample.temperature_c, sample.temperature_c, sample.temperature_c),
        energy_kwh=sample.power_kw * interval_s / 3600.0,
        seqs=(seq,),
    )


def _span_of_run(samples: list[Sample], seq: int, interval_s: float, rejects: int) -> Span:
    """The statistics of consecutive samples of one envelope, computed in one pass."""
    if not samples:
        return Span(rejects=rejects)
    load = [s.spindle_load_pct for s in samples]
    vibration = [s.vibration_rms_mm_s for s in samples]
    temperature = [s.temperature_c for s in samples]
    return Span.model_construct(  # from validated samples
        n=len(samples),
        load=(min(load), sum(load), max(load)),
        vibration=(min(vibration), sum(vibration), max(vibration)),
        temperature=(min(temperature), sum(temperature), max(temperature)),
        energy_kwh=sum(s.power_kw for s in samples) * interval_s / 3600.0,
        rejects=rejects,
        seqs=(seq,),
    )


class Context(BaseModel):
    """What the step's sample says about the part: program, order, lot, product, tool, ideal cycle time."""

    model_config = ConfigDict(frozen=True)

    program: str = ""
    order_id: str | None = None
    material_lot: str | None = None
    product: str | None = None
    tool_id: str = ""
    tool_wear_pct: float = 0.0
    ideal_cycle_time_s: float | None = None

    @classmethod
    def of(cls, sample: Sample) -> Context:
        """The context a sample carries (a validated sample: its values are checked already)."""
        return cls.model_construct(
            program=sample.program,
            order_id=sample.order_id,
            material_lot=sample.material_lot,
            product=sample.product,
            tool_id=sample.tool_id,
            tool_wear_pct=sample.tool_wear_pct,
            ideal_cycle_time_s=sample.ideal_cycle_time_s,
        )


class Step(BaseModel):
    """A sample where the part counter moved: when, the counter before and after, and the sample's context."""

    model_config = ConfigDict(frozen=True)

    ts: UtcDatetime
    before: int
    after: int
    context: Context


class Piece(BaseModel):
    """One envelope reduced to its cycles' pieces.

    ``first`` is the first sample's span (its counters ``first_counts``); ``chunks`` the samples after it,
    each a span ended by a step (or, for the last chunk, by the end of the envelope: ``step`` None).
    ``previous_counts`` are the counters of the sample before (``previous``) when the envelope carries it.
    """

    model_config = ConfigDict(frozen=True)

    machine_id: str
    site: str
    seq: int
    content_hash: str
    first_ts: UtcDatetime
    first: Span
    first_counts: tuple[int, int]
    first_context: Context
    previous_counts: tuple[int, int] | None = None
    chunks: list[tuple[Span, Step | None]] = Field(default_factory=list)
    last_counts: tuple[int, int]

    @property
    def has_inner_step(self) -> bool:
        """Whether a step after the first sample is in this envelope."""
        return any(step is not None for _, step in self.chunks)


def piece_of(envelope: AnyEnvelope, content_hash: str, sample_interval_s: float = 1.0) -> Piece:
    """Reduce one envelope (samples in time order) to its :class:`Piece`."""
    samples = sorted(envelope.samples, key=lambda s: s.ts)
    head = samples[0]
    previous = envelope.previous if envelope.previous is not None and envelope.previous.ts < head.ts else None
    chunks: list[tuple[Span, Step | None]] = []
    current: list[Sample] = []
    rejects = 0
    before = head
    for sample in samples[1:]:
        current.append(sample)
        rejects += counter_delta(before.reject_count, sample.reject_count)
        if sample.part_count != before.part_count:
            step = Step(ts=sample.ts, before=before.part_count, after=sample.part_count, context=Context.of(sample))
            chunks.append((_span_of_run(current, envelope.seq, sample_interval_s, rejects), step))
            current, rejects = [], 0
        before = sample
    chunks.append((_span_of_run(current, envelope.seq, sample_interval_s, rejects), None))
    return Piece(
        machine_id=envelope.machine_id,
        site=envelope.site,
        seq=envelope.seq,
        content_hash=content_hash,
        first_ts=head.ts,
        first=_span_of(head, envelope.seq, sample_interval_s),
        first_counts=(head.part_count, head.reject_count),
        first_context=Context.of(head),
        previous_counts=(previous.part_count, previous.reject_count) if previous is not None else None,
        chunks=chunks,
        last_counts=(samples[-1].part_count, samples[-1].reject_count),
    )


class Cycle(BaseModel):
    """One completed cycle: the parts its step made (controller counts, and which are rejected)."""

    model_config = ConfigDict(frozen=True)

    machine_id: str
    site: str
    start: UtcDatetime
    end: UtcDatetime
    counts: tuple[int, ...]
    rejected: tuple[bool, ...]
    context: Context
    span: Span
    evidence: tuple[tuple[int, str], ...] = ()
    basis: tuple[int, ...] = ()

    @property
    def depends_on(self) -> tuple[int, ...]:
        """The seqs of every envelope the cycle is derived from: its evidence and, when its start was found
        against the last sample of the envelope before (a step at the first sample of an envelope without
        ``previous``), that envelope too."""
        return self.basis or tuple(s for s, _ in self.evidence)

    @property
    def cycle_time_s(self) -> float:
        """Seconds from the previous step to this one."""
        return (self.end - self.start).total_seconds()


def _counts(before: int, after: int) -> tuple[int, ...]:
    made = counter_delta(before, after)
    return tuple(range(after - made + 1, after + 1))


def scan(pieces: Sequence[Piece]) -> list[Cycle]:
    """Every cycle whose start and end are known within a run of pieces of consecutive ``seq``.

    Example:
        >>> scan([])
        []
    """
    cycles: list[Cycle] = []
    open_span: Span | None = None
    open_start: datetime | None = None
    open_basis = 0  # the seq whose content fixes the open cycle's start
    last_counts: tuple[int, int] | None = None
    hashes: dict[int, str] = {}
    previous_seq: int | None = None
    for piece in pieces:
        if previous_seq is not None and piece.seq != previous_seq + 1:
            raise ValueError(f"pieces must have consecutive seq; {piece.seq} follows {previous_seq}")
        previous_seq = piece.seq
        hashes[piece.seq] = piece.content_hash
        before = piece.previous_counts if piece.previous_counts is not None else last_counts
        first = piece.first
        if before is None:
            # nothing known before this sample: a baseline; only the start of history starts a cycle here
            open_span, open_start = (first, piece.first_ts) if piece.seq == 0 else (None, None)
            open_basis = piece.seq
        else:
            first = first.model_copy(update={"rejects": counter_delta(before[1], piece.first_counts[1])})
            if piece.first_counts[0] != before[0]:
                step = Step(
                    ts=piece.first_ts, before=before[0], after=piece.first_counts[0], context=piece.first_context
                )
                if open_span is not None and open_start is not None:
                    cycles.append(_cycle(piece, open_start, open_span.merge(first), step, hashes, open_basis))
                open_span, open_start = Span(seqs=(piece.seq,)), piece.first_ts
                # found against the sample before: the envelope's own `previous`, else the envelope before's last
                open_basis = piece.seq if piece.previous_counts is not None else piece.seq - 1
            elif open_span is not None:
                open_span = open_span.merge(first)
        for span, chunk_step in piece.chunks:
            if chunk_step is None:
                if open_span is not None:
                    open_span = open_span.merge(span)
                continue
            if open_span is not None and open_start is not None:
                cycles.append(_cycle(piece, open_start, open_span.merge(span), chunk_step, hashes, open_basis))
            open_span, open_start, open_basis = Span(seqs=(piece.seq,)), chunk_step.ts, piece.seq
        last_counts = piece.last_counts
    return cycles


def _cycle(piece: Piece, start: datetime, span: Span, step: Step, hashes: Mapping[int, str], basis: int) -> Cycle:
    counts = _counts(step.before, step.after)
    rejects = min(span.rejects, len(counts))
    seqs = tuple(sorted(set(span.seqs) | {piece.seq}))
    return Cycle.model_construct(  # of validated pieces
        machine_id=piece.machine_id,
        site=piece.site,
        start=start,
        end=step.ts,
        counts=counts,
        rejected=tuple(i >= len(counts) - rejects for i in range(len(counts))),
        context=step.context,
        span=span,
        evidence=tuple((s, hashes[s]) for s in seqs),
        basis=tuple(sorted({*seqs, basis})),
    )


def run_around(seq: int, stored: Mapping[int, Piece]) -> list[Piece]:
    """The run of consecutive stored pieces a new piece ``seq`` (in ``stored``) must be scanned with: back to
    the nearest piece whose inner step fixes a cycle start (or to ``seq 0``, or to a gap), forward to the
    nearest piece with a step that ends a cycle depending on ``seq`` (or to a gap).

    A step at the first sample of the next piece, found against ``seq``'s last sample (that piece has no
    ``previous``), also starts a cycle depending on ``seq``: the run goes on to the step that ends it.

    Example:
        >>> run_around(3, {})
        []
    """
    if seq not in stored:
        return []
    lo = seq
    while lo > 0 and lo - 1 in stored:
        lo -= 1
        if stored[lo].has_inner_step:
            break
    hi = seq
    while hi + 1 in stored:
        hi += 1
        found = stored[hi]
        before = found.previous_counts or stored[hi - 1].last_counts
        if found.has_inner_step:
            break
        if found.first_counts[0] != before[0] and (hi - 1 != seq or found.previous_counts is not None):
            break
    return [stored[s] for s in range(lo, hi + 1)]


def touching(cycles: Iterable[Cycle], seq: int) -> list[Cycle]:
    """The cycles that depend on envelope ``seq``: that hold its samples (or their start), or whose start was
    found against its last sample (:attr:`Cycle.depends_on`)."""
    return [c for c in cycles if seq in c.depends_on]
