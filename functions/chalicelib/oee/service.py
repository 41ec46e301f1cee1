"""OEE use cases: the scheduled per-shift run and the tenant-scoped OEE queries.

Stored results are additive totals rows (see ``twin_models.oee.compute_totals``): a requested
period that stored periods tile exactly is the sum of their rows; every other requested period is
computed from the state history on the fly. Either way the report comes from
``twin_models.oee.build_report``, so stored and fresh figures follow the same conventions.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from aws_lambda_powertools import Logger

from chalicelib.errors import BadInputError, NotAllowedError, NotVisibleError
from chalicelib.ports.anchoring import AnchorQueue, RecordConflictError
from chalicelib.ports.oee import Calendars, OeeProgress, OeeResults, StoredPeriod
from chalicelib.ports.twins import Devices, History, Shadows, StateCodes, site_taxonomy
from twin_models.anchoring import record_hash
from twin_models.history import Segment, oee_input
from twin_models.oee import (
    COLUMNS,
    FoldedSeqs,
    MachineData,
    OeeError,
    OeeTotals,
    Period,
    PeriodBy,
    PlantCalendar,
    build_report,
    compute_totals,
    make_periods,
    metrics_from_row,
    row_from_dict,
    row_to_dict,
    shift_instances,
)
from twin_models.shadow import update_payload
from twin_models.states import DEFAULT_TAXONOMY, StateTaxonomy
from twin_models.tenancy import Device, Principal, acting_role, can_see, parties
from twin_models.timestamps import format_utc, from_micros, to_micros

__all__ = ["MAX_RANGE_DAYS", "OeeService", "period_record", "period_record_id"]

MAX_RANGE_DAYS = 400
logger = Logger(service="twinledger-oee")


def _ideal(device: Device) -> dict[str, float]:
    """The registered ideal cycle times: used where history does not state the one in effect (the gateway
    stamps it on each sample from the ``config`` shadow); a count with neither is an input error."""
    return dict(device.ideal_cycle_times_s)


def _shadow_summary(period: Period, row: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, Any]:
    m = metrics_from_row(row)
    doc = m.model_dump(mode="json", exclude={"warnings"})
    doc.update(
        period=period.label,
        shift=period.shift,
        start=format_utc(from_micros(period.start_us)),
        end=format_utc(from_micros(period.end_us)),
    )
    return doc


class OeeService:
    """OEE per shift on a schedule, and OEE queries for machines and lines."""

    def __init__(
        self,
        *,
        results: OeeResults,
        calendars: Calendars,
        history: History,
        devices: Devices,
        shadows: Shadows,
        anchors: AnchorQueue | None = None,
        lookback: timedelta = timedelta(hours=48),
        anchor_after: timedelta = timedelta(hours=2),
        state_codes: StateCodes | None = None,
        incremental: bool = True,
    ) -> None:
        self.incremental = incremental
        self.state_codes = state_codes
        self.results = results
        self.calendars = calendars
        self.history = history
        self.devices = devices
        self.shadows = shadows
        self.anchors = anchors
        self.lookback = lookback
        self.anchor_after = anchor_after

    # -- inputs ---------------------------------------------------------------------------------
    def calendar(self, device: Device) -> PlantCalendar:
        """The site's stored calendar, else the device's time zone with no shifts (all time scheduled)."""
        return self.calendars.get(device.site) or PlantCalendar(timezone=device.timezone)

    def taxonomy(self, device: Device) -> StateTaxonomy:
        """The state codes the machine's site reads its history with."""
        return DEFAULT_TAXONOMY if self.state_codes is None else site_taxonomy(self.state_codes, device.site)

    def machine_data(self, device: Device, start: datetime, end: datetime) -> MachineData:
        """The engine's input for one machine from its stored history."""
        segments = self.history.segments(device.machine_id, start, end)
        return oee_input(device.machine_id, segments, start, end, _ideal(device), line=device.line or None)

    # -- totals: stored where possible, computed otherwise --------------------------------------
    def totals(
        self, devices: Sequence[Device], start: datetime, end: datetime, by: PeriodBy | None, calendar: PlantCalendar
    ) -> tuple[OeeTotals, dict[str, int]]:
        """Per-period totals of ``devices`` over ``[start, end)`` and how many periods were stored/computed."""
        w0, w1 = to_micros(start), to_micros(end)
        tz = ZoneInfo(calendar.timezone)
        instances = shift_instances(calendar.shifts, tz, w0, w1)
        periods = make_periods(by, w0, w1, tz, instances if calendar.shifts else None)
        cube = np.zeros((len(periods), len(devices), len(COLUMNS)), dtype=np.float64)
        notes: list[list[str]] = []
        source = {"stored": 0, "computed": 0}
        for i, device in enumerate(devices):
            stored = self.results.between(device.machine_id, w0, w1)
            missing = self._fill_from_store(periods, stored, cube[:, i, :])
            machine_notes = sorted({n for p in stored for n in p.notes})
            source["stored"] += len(periods) - len(missing)
            source["computed"] += len(missing)
            for lo, hi in _spans(missing):
                a, b = from_micros(periods[lo].start_us), from_micros(periods[hi].end_us)
                fresh = compute_totals(
                    [self.machine_data(device, a, b)],
                    a,
                    b,
                    shifts=calendar.shifts,
                    timezone=calendar.timezone,
                    by=by,
                    taxonomy=self.taxonomy(device),
                )
                index = {p.start_us: k for k, p in enumerate(fresh.periods)}
                for k in range(lo, hi + 1):
                    cube[k, i, :] = fresh.cube[index[periods[k].start_us], 0]
                machine_notes += fresh.notes[0]
            notes.append(machine_notes)
        totals = OeeTotals(
            window_start_us=w0,
            window_end_us=w1,
            timezone=calendar.timezone,
            by=by,
            periods=periods,
            machine_ids=[d.machine_id for d in devices],
            lines=[d.line or None for d in devices],
            cube=cube,
            notes=notes,
        )
        return totals, source

    @staticmethod
    def _fill_from_store(
        periods: list[Period], stored: list[StoredPeriod], rows: np.ndarray[Any, np.dtype[np.float64]]
    ) -> list[int]:
        """Sum stored rows into requested periods they tile exactly; the indexes of the others."""
        starts = [p.start_us for p in stored]
        missing: list[int] = []
        for k, period in enumerate(periods):
            lo = bisect.bisect_left(starts, period.start_us)
            hi = bisect.bisect_left(starts, period.end_us)
            inside = stored[lo:hi]
            cursor = period.start_us
            for part in inside:
                if part.start_us != cursor or part.end_us > period.end_us:
                    break
                cursor = part.end_us
            if not inside or cursor != period.end_us:
                missing.append(k)
                continue
            rows[k] = np.sum([row_from_dict(p.row) for p in inside], axis=0)
        return missing

    # -- queries ----------------------------------------------------------------------------------
    def _check_range(self, start: datetime, end: datetime) -> None:
        if end <= start:
            raise BadInputError("'to' must be after 'from'", field="query.to")
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise BadInputError(f"an OEE range spans at most {MAX_RANGE_DAYS} days", field="query.from")

    def _report(self, devices: Sequence[Device], start: datetime, end: datetime, by: PeriodBy | None) -> dict[str, Any]:
        self._check_range(start, end)
        sites = {d.site for d in devices}
        if len(sites) > 1:
            raise BadInputError(
                f"the machines belong to several sites ({sorted(sites)}) with their own calendars", field="path"
            )
        calendar = self.calendar(devices[0])
        try:
            totals, source = self.totals(devices, start, end, by, calendar)
            report = build_report(totals)
        except OeeError as exc:
            raise BadInputError(str(exc), field="query.by" if by else "query") from exc
        return {
            **report.model_dump(mode="json"),
            "periods_stored": source["stored"],
            "periods_computed": source["computed"],
        }

    def machine_oee(
        self, principal: Principal, machine_id: str, start: datetime, end: datetime, by: PeriodBy | None
    ) -> dict[str, Any]:
        """OEE of one machine the caller may see."""
        device = self.devices.get(machine_id)
        if device is None or not can_see(principal, device):
            raise NotVisibleError(f"no machine {machine_id!r}")
        return {"machine_id": machine_id, **self._report([device], start, end, by)}

    def line_oee(
        self, principal: Principal, line_id: str, start: datetime, end: datetime, by: PeriodBy | None
    ) -> dict[str, Any]:
        """OEE of a line, over the line's machines the caller may see."""
        devices = [d for d in self.devices.for_tenant(principal.tenant) if d.line == line_id]
        if not devices:
            raise NotVisibleError(f"no line {line_id!r}")
        return {"line": line_id, **self._report(devices, start, end, by)}

    def fleet_oee(self, principal: Principal, start: datetime, end: datetime, by: PeriodBy | None) -> dict[str, Any]:
        """OEE of every machine the caller may see (one site), per machine, per line and in total."""
        devices = self.devices.for_tenant(principal.tenant)
        if not devices:
            raise NotVisibleError("no machines")
        return self._report(devices, start, end, by)

    # -- a site's calendar -------------------------------------------------------------------------
    def _site_party(self, principal: Principal, site: str) -> list[Device]:
        """The caller's machines at ``site``; none is a 404 (another tenant's site looks absent)."""
        devices = [d for d in self.devices.for_tenant(principal.tenant) if d.site == site]
        if not devices:
            raise NotVisibleError(f"no site {site!r}")
        return devices

    def site_calendar(self, principal: Principal, site: str) -> dict[str, Any]:
        """A site's stored calendar (or the one OEE uses without it: the zone, no shifts)."""
        devices = self._site_party(principal, site)
        return {"site": site, "calendar": self.calendar(devices[0]).model_dump(mode="json")}

    def set_calendar(self, principal: Principal, site: str, calendar: PlantCalendar) -> dict[str, Any]:
        """The lessor or the lessee of a machine at the site sets its shift calendar (technicians may not).

        Stored periods computed under the previous calendar stay as they were; queries compute the periods
        the new calendar defines that are not stored yet.
        """
        devices = self._site_party(principal, site)
        if not any(acting_role(principal, d) in ("lessor", "lessee") for d in devices):
            raise NotAllowedError(f"a {principal.role} may not set the shift calendar of {site!r}")
        self.calendars.put(site, calendar)
        return {"site": site, "calendar": calendar.model_dump(mode="json")}

    # -- schedule ---------------------------------------------------------------------------------
    def run_schedule(self, now: datetime) -> dict[str, Any]:
        """Recompute every machine's periods whose result can have changed, store them, update shadows.

        Periods are shifts (and the time between shifts) where the site has a calendar, local days
        otherwise. A period is stored once it has ended. A machine's first run (and a run after its calendar,
        state codes, ideal cycle times or line changed) recomputes the look-back window
        (``TWINLEDGER_OEE_LOOKBACK_H``, default 48 h); every other run only the periods that history which
        arrived since (however late), the clock or the anchoring delay touched (see ``_run_incremental``).
        With ``incremental=False`` every run recomputes the look-back.
        """
        now = now.astimezone(UTC)
        start = now - self.lookback
        summary: dict[str, Any] = {
            "machines": 0,
            "periods_stored": 0,
            "shadows_updated": 0,
            "periods_anchored": 0,
            "failed": [],
        }
        for device in self.devices.all():
            try:
                stored, updated, anchored = self._run_machine(device, start, now)
            except (OeeError, BadInputError) as exc:
                logger.warning("oee not computed", machine_id=device.machine_id, error=str(exc))
                summary["failed"].append({"machine_id": device.machine_id, "error": str(exc)})
                continue
            summary["machines"] += 1
            summary["periods_stored"] += stored
            summary["shadows_updated"] += int(updated)
            summary["periods_anchored"] += anchored
        logger.info("oee schedule done", **{k: v for k, v in summary.items() if k != "failed"})
        return summary

    def _run_machine(self, device: Device, start: datetime, now: datetime) -> tuple[int, bool, int]:
        """One machine's run: incremental from where the last run left off, else the full look-back."""
        calendar = self.calendar(device)
        by: PeriodBy = "shift" if calendar.shifts else "day"
        taxonomy = self.taxonomy(device)
        fingerprint = _fingerprint(device, calendar, taxonomy)
        progress = self.results.progress(device.machine_id) if self.incremental else None
        if progress is None or progress.fingerprint != fingerprint or progress.until_us >= to_micros(now):
            return self._run_full(device, calendar, by, taxonomy, fingerprint, start, now)
        return self._run_incremental(device, calendar, by, taxonomy, progress, now)

    def _run_full(
        self,
        device: Device,
        calendar: PlantCalendar,
        by: PeriodBy,
        taxonomy: StateTaxonomy,
        fingerprint: str,
        start: datetime,
        now: datetime,
    ) -> tuple[int, bool, int]:
        """Recompute every completed period of the look-back window (the first run, or inputs changed)."""
        segments = self.history.segments(device.machine_id, start, now)
        data = oee_input(device.machine_id, segments, start, now, _ideal(device), line=device.line or None)
        totals = compute_totals(
            [data], start, now, shifts=calendar.shifts, timezone=calendar.timezone, by=by, taxonomy=taxonomy
        )
        w0, w1 = totals.window_start_us, totals.window_end_us
        complete = [k for k, p in enumerate(totals.periods) if p.start_us > w0 and p.end_us < w1]
        periods = [_stored(device, totals, k, totals.notes[0]) for k in complete]
        written = self.results.put(periods, now)
        shifts = [k for k in complete if totals.periods[k].shift is not None or by == "day"]
        latest = (totals.periods[shifts[-1]], totals.cube[shifts[-1], 0]) if shifts else None
        self._update_shadow(device, by, now, latest, (totals.periods[-1], totals.cube[-1, 0]))
        closed = [
            p
            for p in periods
            if (p.shift is not None or by == "day")  # shifts, or days where the site has no calendar
            and from_micros(p.end_us) <= now - self.anchor_after
            and _reported_in(data, p)
        ]
        anchored = self._anchor_closed(device, closed)
        folded = FoldedSeqs.empty()
        if segments:
            folded = FoldedSeqs(through=min(s.seq for s in segments) - 1).fold(s.seq for s in segments)
        self.results.put_progress(OeeProgress(device.machine_id, folded, to_micros(now), fingerprint))
        return written, True, anchored

    def _run_incremental(
        self,
        device: Device,
        calendar: PlantCalendar,
        by: PeriodBy,
        taxonomy: StateTaxonomy,
        progress: OeeProgress,
        now: datetime,
    ) -> tuple[int, bool, int]:
        """Recompute only the periods whose result can have changed since the last run at ``until_us``.

        Those are: the periods a segment that arrived since (a seq not folded in yet, however old its
        samples) overlaps, and the next period with a counter reading after it (its first part count is
        the difference to the reading before); the periods that ended since the last run; those whose
        anchoring delay passed since; and the current, open one (for the shadow). Each run of consecutive
        periods is computed from the counter reading before it on, so its rows are the rows the full
        recompute gives (``tests/unit/test_oee_incremental.py``). The store answers the new segments
        from its own key (``seq``) and each run with one time query.
        """
        machine = device.machine_id
        now_us, last_us = to_micros(now), progress.until_us
        above = self.history.since(machine, progress.folded.through)
        fresh = [s for s in above if progress.folded.is_new(s.seq)]
        earliest = min([last_us - to_micros_delta(self.anchor_after), *(to_micros(s.start) for s in fresh)])
        tz = ZoneInfo(calendar.timezone)
        g0 = earliest - _GRID_MARGIN_US
        instances = shift_instances(calendar.shifts, tz, g0, now_us)
        grid = make_periods(by, g0, now_us, tz, instances if calendar.shifts else None)[1:]  # first is partial
        starts = [p.start_us for p in grid]
        anchor_us = to_micros_delta(self.anchor_after)
        wanted: set[int] = {len(grid) - 1}
        followers: set[int] = set()
        for k, p in enumerate(grid):
            if last_us <= p.end_us < now_us or last_us - anchor_us < p.end_us <= now_us - anchor_us:
                wanted.add(k)
        for seg in fresh:
            lo = max(0, bisect.bisect_right(starts, to_micros(seg.start)) - 1)
            hi = max(lo, bisect.bisect_left(starts, to_micros(seg.end)) - 1)
            wanted.update(range(lo, hi + 1))
            if hi + 1 < len(grid):
                wanted.add(hi + 1)
                followers.add(hi + 1)
        rows: dict[int, tuple[np.ndarray[Any, np.dtype[np.float64]], list[str], MachineData]] = {}
        computed_with: set[int] = set()
        for lo, hi in _spans(sorted(wanted)):
            while True:
                a, b = from_micros(grid[lo].start_us), from_micros(grid[hi].end_us)
                context = self._context_start(machine, a)
                segments = self.history.segments(machine, context, b)
                if hi in followers and hi + 1 < len(grid) and not _has_reading(segments, grid[hi]):
                    hi += 1  # no reading in the follower: the next reading after the new history lies further on
                    followers.add(hi)
                    continue
                break
            computed_with.update(s.seq for s in segments)
            data = oee_input(machine, segments, context, b, _ideal(device), line=device.line or None)
            totals = compute_totals(
                [data], context, b, shifts=calendar.shifts, timezone=calendar.timezone, by=by, taxonomy=taxonomy
            )
            index = {p.start_us: k for k, p in enumerate(totals.periods)}
            for k in range(lo, hi + 1):
                rows[k] = (totals.cube[index[grid[k].start_us], 0], totals.notes[0], data)
        complete = sorted(k for k in rows if grid[k].end_us < now_us)
        periods = [
            StoredPeriod(
                machine_id=machine,
                start_us=grid[k].start_us,
                end_us=grid[k].end_us,
                label=grid[k].label,
                shift=grid[k].shift,
                row=row_to_dict(rows[k][0]),
                notes=rows[k][1][:20],
            )
            for k in complete
        ]
        written = self.results.put(periods, now)
        shifts = [k for k, p in enumerate(grid) if p.end_us < now_us and (p.shift is not None or by == "day")]
        latest = None
        if shifts:
            k = shifts[-1]
            if k in rows:
                latest = (grid[k], rows[k][0])
            else:
                stored = self.results.between(machine, grid[k].start_us, grid[k].end_us)
                if stored and stored[0].start_us == grid[k].start_us:
                    latest = (grid[k], row_from_dict(stored[0].row))
        current = len(grid) - 1
        self._update_shadow(device, by, now, latest, (grid[current], rows[current][0]))
        by_start = {p.start_us: p for p in periods}
        closed = [
            by_start[grid[k].start_us]
            for k in complete
            if (grid[k].shift is not None or by == "day")
            and from_micros(grid[k].end_us) <= now - self.anchor_after
            and _reported_in(rows[k][2], by_start[grid[k].start_us])
        ]
        anchored = self._anchor_closed(device, closed)
        # Fold in only what the periods were computed with: the time index is eventually consistent and may
        # not show a segment the key query found yet; that one stays new and is taken in at the next run.
        folded = progress.folded.fold(s.seq for s in fresh if s.seq in computed_with)
        # A gap below history that was folded in by an earlier run and is older than the look-back is not
        # waited for any longer (the full recompute would not take that history in either).
        horizon = now - self.lookback
        expired = [s.seq for s in above if not progress.folded.is_new(s.seq) and s.start < horizon]
        if expired:
            folded = folded.give_up_through(max(expired))
        self.results.put_progress(OeeProgress(machine, folded, now_us, progress.fingerprint))
        return written, True, anchored

    def _context_start(self, machine_id: str, at: datetime) -> datetime:
        """Where to read from so that the first counter reading at or after ``at`` has the one before it (its
        part count is the difference): the start of the latest segment before ``at`` with a reading.

        Looks at the four latest segments starting at or before ``at``; a machine whose counters were silent
        for longer is read from ``at``.
        """
        best: tuple[datetime, datetime] | None = None
        for segment in self.history.latest_before(machine_id, at):
            for point in segment.counters:
                if point.ts < at and (best is None or point.ts > best[0]):
                    best = (point.ts, segment.start)
        return at if best is None else min(at, best[1])

    def _update_shadow(
        self,
        device: Device,
        by: PeriodBy,
        now: datetime,
        latest: tuple[Period, np.ndarray[Any, np.dtype[np.float64]]] | None,
        current: tuple[Period, np.ndarray[Any, np.dtype[np.float64]]],
    ) -> None:
        reported: dict[str, Any] = {"schema": 1, "computed_at": format_utc(now), "by": by}
        if latest is not None:
            reported["latest"] = _shadow_summary(*latest)
        reported["current"] = _shadow_summary(*current)
        self.shadows.update(device.machine_id, "oee", update_payload(reported))

    def _anchor_closed(self, device: Device, periods: Sequence[StoredPeriod]) -> int:
        """Queue each closed shift's (or, without a calendar, day's) result for anchoring, so both parties
        can prove it later; the time between shifts and periods the machine reported nothing in are left out.

        The record is the period's summary (:func:`period_record`), its id ``oee/<machine>/<period start>``. A
        period recomputed with the same figures is queued once; one whose figures changed after it was queued
        (history that arrived very late) is queued again under ``...#<hash prefix>``, so every version that
        was reported stays provable.
        """
        if self.anchors is None:
            return 0
        queued = 0
        for period in periods:
            record = period_record(period)
            digest = record_hash(record)
            record_id = period_record_id(device.machine_id, from_micros(period.start_us))
            try:
                fresh = self.anchors.submit(record_id, digest, kind="oee-period", tenants=parties(device))
            except RecordConflictError:
                fresh = self.anchors.submit(
                    f"{record_id}#{digest.hex()[:12]}", digest, kind="oee-period", tenants=parties(device)
                )
            queued += int(fresh)
        return queued


#: How far before the earliest changed instant the period grid starts (its first period is cut and dropped):
#: longer than any period (a day, or the time between shifts over a long weekend).
_GRID_MARGIN_US = 8 * 86_400_000_000


def to_micros_delta(delta: timedelta) -> int:
    """A duration in whole microseconds.

    Example:
        >>> to_micros_delta(timedelta(hours=2))
        7200000000
    """
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _fingerprint(device: Device, calendar: PlantCalendar, taxonomy: StateTaxonomy) -> str:
    """A digest of the run's inputs other than history: a change means every period is recomputed."""
    doc = {
        "calendar": calendar.model_dump(mode="json"),
        "taxonomy": repr(taxonomy),
        "ideal": sorted(_ideal(device).items()),
        "line": device.line,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _has_reading(segments: Sequence[Segment], period: Period) -> bool:
    """True when a counter reading of ``segments`` lies in ``period``."""
    lo, hi = from_micros(period.start_us), from_micros(period.end_us)
    return any(lo <= p.ts < hi for s in segments for p in s.counters)


def _stored(device: Device, totals: OeeTotals, k: int, notes: list[str]) -> StoredPeriod:
    period = totals.periods[k]
    return StoredPeriod(
        machine_id=device.machine_id,
        start_us=period.start_us,
        end_us=period.end_us,
        label=period.label,
        shift=period.shift,
        row=row_to_dict(totals.cube[k, 0]),
        notes=notes[:20],
    )


def _reported_in(data: MachineData, period: StoredPeriod) -> bool:
    """True when the machine's history covers some of the period (a period it reported nothing in proves
    nothing)."""
    states = data.states
    lo, hi = period.start_us / 1e6, period.end_us / 1e6
    return bool(np.any((states.start_s < hi) & (states.end_s > lo)))


def period_record_id(machine_id: str, start: datetime) -> str:
    """The anchoring record id of one machine's period result: ``oee/<machine>/<period start, UTC>``.

    Example:
        >>> period_record_id("cnc-01", datetime(2026, 1, 5, 5, tzinfo=UTC))
        'oee/cnc-01/2026-01-05T05:00:00Z'
    """
    return f"oee/{machine_id}/{format_utc(start)}"


def period_record(period: StoredPeriod) -> dict[str, Any]:
    """The anchored form of one machine's result for one closed period: bounds, label and KPIs.

    Example:
        >>> from twin_models.oee import COLUMNS
        >>> row = dict.fromkeys(COLUMNS, 0.0)
        >>> period_record(StoredPeriod("cnc-01", 0, 3_600_000_000, "early", "early", row, []))["end"]
        '1970-01-01T01:00:00Z'
    """
    m = metrics_from_row(row_from_dict(period.row))
    return {
        "kind": "oee-period",
        "machine_id": period.machine_id,
        "label": period.label,
        "shift": period.shift,
        "start": format_utc(from_micros(period.start_us)),
        "end": format_utc(from_micros(period.end_us)),
        "metrics": m.model_dump(mode="json", exclude={"warnings"}),
    }


def _spans(indexes: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive indexes as ``(first, last)``."""
    spans: list[tuple[int, int]] = []
    for k in indexes:
        if spans and spans[-1][1] == k - 1:
            spans[-1] = (spans[-1][0], k)
        else:
            spans.append((k, k))
    return spans
