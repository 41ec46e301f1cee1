"""One fault episode is one alarm and one ticket: an alarm that clears and comes back on the same
component within the merge window continues its episode and ticket; later, or on another component, it
is a new episode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.anomaly import AnomalyService
from chalicelib.anomaly.client import AnomalyResult
from chalicelib.anomaly.service import EPISODE_MERGE_S

START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


class _NoEndpoint:
    def invoke(self, body: bytes, content_type: str = "application/json") -> bytes:
        raise AssertionError("outcome() does not call the endpoint")


def _result(alarm: bool, onset: bool, action: str, severity: str | None = None) -> AnomalyResult:
    severity = severity or ("warning" if alarm else "ok")
    return AnomalyResult(
        machine_id="cnc-03",
        severity=severity,
        score=5.0 if alarm else 1.0,
        alarm=alarm,
        action=action,
        contributions={"vibration_rms": 1.0},
        threshold=4.0,
        critical=8.0,
        state={"active": alarm},
        windows=[{"alarm_onset": int(onset), "is_anomaly": int(alarm), "severity": severity}],
    )


def _episodes(gap_s: int, first: str, second: str) -> tuple[list[dict[str, Any]], AnomalyService, dict[str, Any]]:
    clock = {"now": START}
    service = AnomalyService(_NoEndpoint(), clock=lambda: clock["now"])
    tickets: list[dict[str, Any]] = []
    reported: dict[str, Any] | None = None
    steps = [
        (timedelta(0), _result(True, True, first)),
        (timedelta(minutes=30), _result(True, False, first)),
        (timedelta(minutes=60), _result(False, False, first)),  # cleared
        (timedelta(minutes=60, seconds=gap_s), _result(True, True, second)),  # back
    ]
    for offset, result in steps:
        clock["now"] = START + offset
        outcome = service.outcome(result, reported)
        reported = outcome.shadow["state"]["reported"]
        if outcome.ticket is not None:
            tickets.append(outcome.ticket)
    assert reported is not None
    return tickets, service, reported


@settings(max_examples=60, deadline=None)
@given(gap_s=st.integers(0, 6 * 3600), same=st.booleans())
def test_an_alarm_back_within_the_merge_window_on_the_same_component_is_the_same_episode(
    gap_s: int, same: bool
) -> None:
    second = "spindle_bearings" if same else "cooling_system"
    tickets, _, reported = _episodes(gap_s, "spindle_bearings", second)
    merged = same and gap_s <= EPISODE_MERGE_S
    assert len(tickets) == (1 if merged else 2)
    # the episode in progress names its ticket: the first one when merged
    assert reported["episode_ticket"] == tickets[-1]["ticket_id"]
    assert reported["episode_ticket"] == tickets[0]["ticket_id"] or not merged


def test_a_merged_episode_that_was_critical_does_not_page_again() -> None:
    clock = {"now": START}
    service = AnomalyService(_NoEndpoint(), clock=lambda: clock["now"])
    pages = 0
    reported: dict[str, Any] | None = None
    for minutes, result in (
        (0, _result(True, True, "spindle_bearings", "critical")),
        (60, _result(False, False, "spindle_bearings")),
        (90, _result(True, True, "spindle_bearings", "critical")),
    ):
        clock["now"] = START + timedelta(minutes=minutes)
        outcome = service.outcome(result, reported)
        reported = outcome.shadow["state"]["reported"]
        pages += outcome.alert is not None
    assert pages == 1
