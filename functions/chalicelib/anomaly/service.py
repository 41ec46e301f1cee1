"""Turn a :class:`AnomalyResult` into the ``health`` shadow body, a maintenance ticket and a critical page.

* the ``health`` named-shadow document: ``{"state": {"reported": {...}}}`` with severity, score,
  threshold, alarm, recommended action and its driving features, the ``model_hash`` of the model that
  scored (``model``) and of the one that raised the episode in progress (``episode_model_hash``, also in
  ``last_episode``), and what the next call needs: the
  alarm state and the machine's temperature baseline (learnt from healthy batches only);
* a maintenance ticket (for the maintenance log, with a ``content_hash`` over it and the raising model's
  ``model_hash``) on the onset of an alarm
  episode: one fault episode is one alarm and one ticket, however long it lasts, and an alarm on the same
  component that comes back within ``merge_s`` (two hours) of clearing continues that episode and its
  ticket; when its severity rises (warning to critical) an *escalation* for the same episode, which
  updates that ticket;
* a critical alert to SNS when an episode first becomes critical (its score reaches the critical level,
  or it outlived the escalation time), at most one per ``<machine>#<action>`` per cooldown (state in
  DynamoDB) as a second guard, so one fault is one page.

Example:
    >>> service = AnomalyService(endpoint, cooldown=None, publisher=None)           # doctest: +SKIP
    >>> outcome = service.handle("mill-01", windows, previous_reported=reported)   # doctest: +SKIP
    >>> outcome.shadow["state"]["reported"]["severity"], outcome.ticket is None     # doctest: +SKIP
    ('warning', False)
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.anomaly.client import AnomalyResult, score_windows, windows_from_samples
from chalicelib.ports.anomaly import AlertPublisher, AnomalyEndpoint, Cooldowns
from twin_models.merkle import keccak256
from twin_models.signing import canonical_bytes
from twin_models.timestamps import format_utc

__all__ = ["AnomalyOutcome", "AnomalyService", "alarm_escalation", "health_shadow", "maintenance_ticket"]

_RANK = {"ok": 0, "warning": 1, "critical": 2}
_NAMES = {rank: name for name, rank in _RANK.items()}
#: An alarm on the same component that comes back within this many seconds of clearing continues the
#: episode that cleared (its ticket, its severity): one fault episode is one alarm and one ticket.
EPISODE_MERGE_S = 7200


def _iso(moment: datetime) -> str:
    """Whole seconds: a ticket's hash covers its time, so the same alarm at the same second hashes alike."""
    return format_utc(moment.replace(microsecond=0))


def _round_map(values: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in values.items()}


def _ranked(values: Mapping[str, float]) -> list[dict[str, Any]]:
    """Contributions as a list, largest first: a shadow update replaces arrays but merges objects, so a
    mapping would keep features from earlier reports."""
    ordered = sorted(values.items(), key=lambda kv: -float(kv[1]))
    return [{"feature": k, "share": round(float(v), 4)} for k, v in ordered]


def health_shadow(result: AnomalyResult, now: datetime) -> dict[str, Any]:
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
                "missing": list(result.missing),  # the model's features these samples did not carry
                "alarm_state": result.state,
                "model": {k: result.model.get(k) for k in ("model_hash", "federation_round", "detector", "trained_at")},
                "updated_at": _iso(now),
            }
        }
    }


def maintenance_ticket(result: AnomalyResult, now: datetime) -> dict[str, Any]:
    """A maintenance-log entry for a raised alarm; ``content_hash`` is keccak256 of the RFC 8785 form of
    the other fields (what the anchoring service commits to)."""
    entry: dict[str, Any] = {
        "kind": "maintenance_ticket",
        "machine_id": result.machine_id,
        "opened_at": _iso(now),
        "severity": result.severity,
        "action": result.action,
        "action_text": result.action_text,
        "score": round(result.score, 4),
        "threshold": round(result.threshold, 4),
        "contributions": _round_map(result.contributions),
        "detector": result.model.get("detector"),
        "model_trained_at": result.model.get("trained_at"),
        "model_hash": result.model_hash,
    }
    digest = keccak256(canonical_bytes(entry))
    entry["ticket_id"] = f"{result.machine_id}-{digest.hex()[:16]}"
    entry["content_hash"] = "0x" + digest.hex()
    return entry


def alarm_escalation(result: AnomalyResult, now: datetime, episode_ticket: str | None) -> dict[str, Any]:
    """The rise of an alarm episode to a higher severity: it updates the episode's ticket (``episode_ticket``)."""
    return {
        "kind": "alarm_escalation",
        "machine_id": result.machine_id,
        "at": _iso(now),
        "severity": result.severity,
        "action": result.action,
        "action_text": result.action_text,
        "score": round(result.score, 4),
        "threshold": round(result.threshold, 4),
        "critical": round(result.critical, 4),
        "episode_ticket": episode_ticket,
        "ticket_id": f"{episode_ticket or result.machine_id}~{result.severity}",
        "model_hash": result.model_hash,
    }


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
class AnomalyOutcome:
    """What the ingest path does next: write ``shadow`` to the ``health`` named shadow, hand ``ticket`` (an
    episode's onset) or ``escalation`` (its rise in severity) to the maintenance log; ``alert`` is the page
    this service sent (if it was given a publisher) or would send."""

    result: AnomalyResult
    shadow: dict[str, Any]
    ticket: dict[str, Any] | None
    alert: dict[str, Any] | None
    escalation: dict[str, Any] | None = None


class AnomalyService:
    """The anomaly use case over its ports: the endpoint, the page cooldown and the alert topic (both optional)."""

    def __init__(
        self,
        endpoint: AnomalyEndpoint,
        cooldown: Cooldowns | None = None,
        publisher: AlertPublisher | None = None,
        cooldown_s: int = 3600,
        clock: Callable[[], datetime] | None = None,
        merge_s: int = EPISODE_MERGE_S,
    ) -> None:
        self._merge_s = merge_s
        self._endpoint = endpoint
        self._cooldown = cooldown
        self._publisher = publisher
        self._cooldown_s = cooldown_s
        self._clock = clock or (lambda: datetime.now(UTC))

    def handle(
        self,
        machine_id: str,
        windows: Sequence[Mapping[str, Any]],
        previous_reported: Mapping[str, Any] | None = None,
        baseline_temperature: float | None = None,
    ) -> AnomalyOutcome:
        """Score ``windows`` (oldest first) and derive the shadow, ticket and alert.

        ``previous_reported`` is the current ``health`` shadow's ``reported`` section (or ``None``).
        """
        previous = dict(previous_reported or {})
        prev_state = previous.get("alarm_state") if isinstance(previous.get("alarm_state"), dict) else None
        baseline = baseline_temperature
        if baseline is None and isinstance(previous.get("baseline_temperature_c"), int | float):
            baseline = float(previous["baseline_temperature_c"])
        result = score_windows(
            machine_id, windows, state=prev_state, baseline_temperature=baseline, endpoint=self._endpoint
        )
        outcome = self.outcome(result, previous)
        learnt = _learn_baseline(baseline, windows, result.severity)
        if learnt is not None:
            outcome.shadow["state"]["reported"]["baseline_temperature_c"] = round(learnt, 3)
        return outcome

    def handle_samples(
        self,
        machine_id: str,
        samples: Sequence[Any],
        previous_reported: Mapping[str, Any] | None = None,
        window: int = 60,
        min_samples: int = 30,
    ) -> AnomalyOutcome | None:
        """:meth:`handle` for raw samples of one machine (oldest first), cut into windows of ``window``
        samples; ``None`` when there are fewer than ``min_samples`` (nothing to score yet)."""
        windows = windows_from_samples(samples, window=window, min_samples=min_samples)
        if not windows:
            return None
        return self.handle(machine_id, windows, previous_reported)

    def _reopened(self, previous: Mapping[str, Any], action: str, now: datetime) -> Mapping[str, Any] | None:
        """The episode that cleared less than ``merge_s`` ago on the same component, if any."""
        last = previous.get("last_episode")
        if not isinstance(last, Mapping) or last.get("action") != action or not isinstance(last.get("ticket"), str):
            return None
        try:
            cleared = datetime.fromisoformat(str(last.get("cleared_at")).replace("Z", "+00:00"))
        except ValueError:
            return None
        return last if 0 <= (now - cleared).total_seconds() <= self._merge_s else None

    def outcome(self, result: AnomalyResult, previous_reported: Mapping[str, Any] | None = None) -> AnomalyOutcome:
        """The shadow, ticket and alert for an already obtained result."""
        now = self._clock()
        previous = dict(previous_reported or {})
        was_alarm = bool((previous.get("alarm_state") or {}).get("active", False))
        # the highest severity of the episode in progress: one ticket per episode (at its onset), one
        # page when it first becomes critical
        episode = _RANK.get(str(previous.get("episode_severity", "ok")), 0) if was_alarm else 0
        episode_ticket = previous.get("episode_ticket") if was_alarm else None
        rank = _RANK.get(result.severity, 0)
        onsets = [int(w.get("alarm_onset", 0)) for w in result.windows]
        started = any(onsets) if result.windows and "alarm_onset" in result.windows[0] else (rank > 0 and not was_alarm)
        reopened = self._reopened(previous, result.action, now) if started else None
        if reopened is not None:  # the same fault back within the merge window: the same episode and ticket
            started = False
            episode = _RANK.get(str(reopened.get("severity", "ok")), 0)
            episode_ticket = reopened["ticket"]
        elif started:
            episode = 0  # a new episode (the previous one may have cleared within this batch)
        ticket = maintenance_ticket(result, now) if started else None
        escalation = None
        if not started and result.alarm and 0 < episode < rank:
            escalation = alarm_escalation(result, now, episode_ticket if isinstance(episode_ticket, str) else None)
        alert = (
            self._page(result, now, ticket) if result.severity == "critical" and episode < _RANK["critical"] else None
        )
        shadow = health_shadow(result, now)
        reported = shadow["state"]["reported"]
        reported["episode_severity"] = _NAMES[max(episode, rank)] if result.alarm else "ok"
        reported["alarm_onsets"] = sum(onsets)
        if ticket is not None:
            episode_ticket = ticket["ticket_id"]
        if result.alarm and isinstance(episode_ticket, str):
            reported["episode_ticket"] = episode_ticket
            reported["episode_action"] = (
                result.action if ticket is not None else previous.get("episode_action", result.action)
            )
            # the model that raised the episode (its onset), kept while the episode lasts
            reported["episode_model_hash"] = (
                result.model_hash if ticket is not None else previous.get("episode_model_hash", result.model_hash)
            )
        if isinstance(previous.get("last_episode"), Mapping):
            reported["last_episode"] = dict(previous["last_episode"])
        if was_alarm and not result.alarm and isinstance(previous.get("episode_ticket"), str):
            # the episode cleared: remembered for the merge window
            reported["last_episode"] = {
                "ticket": previous["episode_ticket"],
                "action": previous.get("episode_action", result.action),
                "severity": _NAMES[max(episode, rank)],
                "cleared_at": _iso(now),
                "model_hash": previous.get("episode_model_hash"),
            }
        return AnomalyOutcome(result=result, shadow=shadow, ticket=ticket, alert=alert, escalation=escalation)

    def _page(self, result: AnomalyResult, now: datetime, ticket: dict[str, Any] | None) -> dict[str, Any] | None:
        key = f"{result.machine_id}#{result.action}"
        if self._cooldown is not None and not self._cooldown.try_acquire(key, int(now.timestamp()), self._cooldown_s):
            return None
        message = {
            "machine_id": result.machine_id,
            "severity": result.severity,
            "action": result.action,
            "action_text": result.action_text,
            "score": round(result.score, 4),
            "critical": round(result.critical, 4),
            "contributions": _round_map(result.contributions),
            "ticket_id": None if ticket is None else ticket["ticket_id"],
            "escalated": bool(result.escalated),
            "model_hash": result.model_hash,
            "at": _iso(now),
        }
        alert: dict[str, Any] = {"alert_key": key, "message": message, "message_id": None}
        if self._publisher is not None:
            alert["message_id"] = self._publisher.publish(
                f"CRITICAL {result.machine_id}: {result.action.replace('_', ' ')}",
                json.dumps(message, separators=(",", ":")),
                {"machine_id": result.machine_id, "severity": result.severity},
            )
        return alert
