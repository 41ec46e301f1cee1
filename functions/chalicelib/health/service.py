"""Turn a :class:`HealthResult` into the ``health`` shadow body, a maintenance ticket and a critical page.

* the ``health`` named-shadow document: ``{"state": {"reported": {...}}}`` with severity, score,
  threshold, alarm, recommended action and its driving features, and what the next call needs: the
  alarm state and the machine's temperature baseline (learnt from healthy batches only);
* a maintenance ticket (a maintenance-log entry with a ``content_hash`` for the anchoring service) when
  an alarm is raised (warning or critical), once per alarm rather than per batch;
* a critical alert to SNS, at most one per ``<thing>#<action>`` per cooldown (state in DynamoDB), so
  one fault is one page.

Example:
    >>> service = HealthService(cooldown=None, publisher=None)                     # doctest: +SKIP
    >>> outcome = service.handle("mill-01", windows, previous_reported=reported)   # doctest: +SKIP
    >>> outcome.shadow["state"]["reported"]["severity"], outcome.ticket is None     # doctest: +SKIP
    ('warning', False)
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.health.client import HealthResult, score_windows, windows_from_samples
from chalicelib.health.dal import AlertPublisher, AnomalyEndpoint, CooldownStore, get_cooldown_store, get_publisher
from twin_models.merkle import keccak256
from twin_models.signing import canonical_bytes

__all__ = ["HealthOutcome", "HealthService", "health_shadow", "maintenance_ticket"]

_RANK = {"ok": 0, "warning": 1, "critical": 2}
_NAMES = {rank: name for name, rank in _RANK.items()}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _round_map(values: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in values.items()}


def _ranked(values: Mapping[str, float]) -> list[dict[str, Any]]:
    """Contributions as a list, largest first: a shadow update replaces arrays but merges objects, so a
    mapping would keep features from earlier reports."""
    ordered = sorted(values.items(), key=lambda kv: -float(kv[1]))
    return [{"feature": k, "share": round(float(v), 4)} for k, v in ordered]


def health_shadow(result: HealthResult, now: datetime) -> dict[str, Any]:
    """The ``health`` named-shadow update for a result."""
    return {
        "state": {
            "reported": {
                "severity": result.severity,
                "score": round(result.score, 4),
                "threshold": round(result.threshold, 4),
                "critical": round(result.critical, 4),
                "alarm": result.alarm,
                "action": result.action,
                "action_text": result.action_text,
                "contributions": _ranked(result.contributions),  # a list: shadows merge objects
                "windows": len(result.windows),
                "alarm_state": result.state,
                "model": {k: result.model.get(k) for k in ("detector", "trained_at")},
                "updated_at": _iso(now),
            }
        }
    }


def maintenance_ticket(result: HealthResult, now: datetime) -> dict[str, Any]:
    """A maintenance-log entry for a raised alarm; ``content_hash`` is keccak256 of the RFC 8785 form of
    the other fields (what the anchoring service commits to)."""
    entry: dict[str, Any] = {
        "kind": "maintenance_ticket",
        "thing_name": result.thing,
        "opened_at": _iso(now),
        "severity": result.severity,
        "action": result.action,
        "action_text": result.action_text,
        "score": round(result.score, 4),
        "threshold": round(result.threshold, 4),
        "contributions": _round_map(result.contributions),
        "detector": result.model.get("detector"),
        "model_trained_at": result.model.get("trained_at"),
    }
    digest = keccak256(canonical_bytes(entry))
    entry["ticket_id"] = f"{result.thing}-{digest.hex()[:16]}"
    entry["content_hash"] = "0x" + digest.hex()
    return entry


def _learn_baseline(
    baseline: float | None, windows: Sequence[Mapping[str, Any]], severity: str, rate: float = 0.1
) -> float | None:
    """The machine's temperature baseline after this batch: learnt from healthy batches only, so a
    developing fault never becomes the new normal."""
    temps = []
    for window in windows:
        values = [s.get("temperature_c") for s in window.get("samples", []) if isinstance(s, Mapping)]
        finite = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
        if finite:
            temps.append(statistics.fmean(finite))
    if severity != "ok" or not temps:
        return baseline
    batch = statistics.median(temps)
    return batch if baseline is None else baseline + rate * (batch - baseline)


@dataclass(frozen=True)
class HealthOutcome:
    """What the ingest path does next: write ``shadow`` to the ``health`` named shadow, append
    ``ticket`` (if any) to the maintenance log for anchoring; ``alert`` is the page sent (if any)."""

    result: HealthResult
    shadow: dict[str, Any]
    ticket: dict[str, Any] | None
    alert: dict[str, Any] | None


class HealthService:
    """The health use case. Adapters default to the configured ones (lazy getters)."""

    def __init__(
        self,
        endpoint: AnomalyEndpoint | None = None,
        cooldown: CooldownStore | None = None,
        publisher: AlertPublisher | None = None,
        cooldown_s: int | None = None,
        clock: Callable[[], datetime] | None = None,
        use_default_adapters: bool = True,
    ) -> None:
        self._endpoint = endpoint
        self._cooldown = cooldown if cooldown is not None or not use_default_adapters else get_cooldown_store()
        self._publisher = publisher if publisher is not None or not use_default_adapters else get_publisher()
        self._cooldown_s = (
            cooldown_s if cooldown_s is not None else int(os.environ.get("TWINLEDGER_ALERT_COOLDOWN_S", "3600"))
        )
        self._clock = clock or (lambda: datetime.now(UTC))

    def handle(
        self,
        thing: str,
        windows: Sequence[Mapping[str, Any]],
        previous_reported: Mapping[str, Any] | None = None,
        baseline_temperature: float | None = None,
    ) -> HealthOutcome:
        """Score ``windows`` (oldest first) and derive the shadow, ticket and alert.

        ``previous_reported`` is the current ``health`` shadow's ``reported`` section (or ``None``).
        """
        previous = dict(previous_reported or {})
        prev_state = previous.get("alarm_state") if isinstance(previous.get("alarm_state"), dict) else None
        baseline = baseline_temperature
        if baseline is None and isinstance(previous.get("baseline_temperature_c"), int | float):
            baseline = float(previous["baseline_temperature_c"])
        result = score_windows(thing, windows, state=prev_state, baseline_temperature=baseline, endpoint=self._endpoint)
        outcome = self.outcome(result, previous)
        learnt = _learn_baseline(baseline, windows, result.severity)
        if learnt is not None:
            outcome.shadow["state"]["reported"]["baseline_temperature_c"] = round(learnt, 3)
        return outcome

    def handle_samples(
        self,
        thing: str,
        samples: Sequence[Any],
        previous_reported: Mapping[str, Any] | None = None,
        window: int = 60,
        min_samples: int = 30,
    ) -> HealthOutcome | None:
        """:meth:`handle` for raw samples of one machine (oldest first), cut into windows of ``window``
        samples; ``None`` when there are fewer than ``min_samples`` (nothing to score yet)."""
        windows = windows_from_samples(samples, window=window, min_samples=min_samples)
        if not windows:
            return None
        return self.handle(thing, windows, previous_reported)

    def outcome(self, result: HealthResult, previous_reported: Mapping[str, Any] | None = None) -> HealthOutcome:
        """The shadow, ticket and alert for an already obtained result."""
        now = self._clock()
        previous = dict(previous_reported or {})
        was_alarm = bool((previous.get("alarm_state") or {}).get("active", False))
        # the highest severity of the alarm in progress: a ticket per alarm and per escalation, not per batch
        episode = _RANK.get(str(previous.get("episode_severity", "ok")), 0) if was_alarm else 0
        rank = _RANK.get(result.severity, 0)
        ticket = maintenance_ticket(result, now) if rank > episode else None
        alert = self._page(result, now, ticket) if result.severity == "critical" else None
        shadow = health_shadow(result, now)
        shadow["state"]["reported"]["episode_severity"] = _NAMES[max(episode, rank)] if result.alarm else "ok"
        return HealthOutcome(result=result, shadow=shadow, ticket=ticket, alert=alert)

    def _page(self, result: HealthResult, now: datetime, ticket: dict[str, Any] | None) -> dict[str, Any] | None:
        key = f"{result.thing}#{result.action}"
        if self._cooldown is not None and not self._cooldown.try_acquire(key, int(now.timestamp()), self._cooldown_s):
            return None
        message = {
            "thing_name": result.thing,
            "severity": result.severity,
            "action": result.action,
            "action_text": result.action_text,
            "score": round(result.score, 4),
            "critical": round(result.critical, 4),
            "contributions": _round_map(result.contributions),
            "ticket_id": None if ticket is None else ticket["ticket_id"],
            "at": _iso(now),
        }
        alert: dict[str, Any] = {"alert_key": key, "message": message, "message_id": None}
        if self._publisher is not None:
            alert["message_id"] = self._publisher.publish(
                f"CRITICAL {result.thing}: {result.action.replace('_', ' ')}",
                json.dumps(message, separators=(",", ":")),
                {"thing_name": result.thing, "severity": result.severity},
            )
        return alert
