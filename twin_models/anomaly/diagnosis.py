"""Which component an alarm points at, and what maintenance to recommend, from feature contributions.

Each feature belongs to a component by its name (vibration/bearing signals -> spindle bearings,
temperatures and heat dissipation -> cooling system, tool wear and cutting load -- spindle load, current,
torque, power at a given speed -> tool change); the component holding at least half of a
row's contribution decides the action, otherwise a general inspection is recommended.

Example:
    >>> d = diagnose({"vibration_rms": 0.7, "temperature": 0.2, "speed_cv": 0.1})
    >>> d.action, d.component_shares["spindle_bearings"]
    ('spindle_bearings', 0.7)
    >>> diagnose({"temperature_rise": 0.4, "tool_wear": 0.35, "speed_cv": 0.25}).action
    'general_inspection'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from twin_models.components import component_of

__all__ = ["ACTIONS", "Diagnosis", "component_of", "diagnose"]

#: The recommended maintenance action per component.
ACTIONS: dict[str, str] = {
    "spindle_bearings": "Inspect the spindle bearings (vibration above the healthy level); plan a bearing check.",
    "cooling_system": "Check the cooling system (coolant level, pump, filters): temperature above baseline.",
    "tool_change": "Change the tool: wear and cutting load beyond the healthy range.",
    "general_inspection": "General inspection: several signals deviate, no single component dominates.",
}


@dataclass(frozen=True)
class Diagnosis:
    """The recommended action, its text, and each component's share of the deviation."""

    action: str
    text: str
    component_shares: dict[str, float]
    top_features: list[tuple[str, float]]


def diagnose(contributions: Mapping[str, float], dominance: float = 0.5, top: int = 3) -> Diagnosis:
    """The action for one row, given each feature's share of its anomaly score."""
    shares: dict[str, float] = {}
    for feature, value in contributions.items():
        comp = component_of(feature)
        shares[comp] = round(shares.get(comp, 0.0) + float(value), 6)
    ranked = sorted(shares.items(), key=lambda kv: kv[1], reverse=True)
    action = "general_inspection"
    if ranked and ranked[0][1] >= dominance and ranked[0][0] != "general_inspection":
        action = ranked[0][0]
    top_features = sorted(((f, round(float(v), 4)) for f, v in contributions.items()), key=lambda kv: -kv[1])
    return Diagnosis(action=action, text=ACTIONS[action], component_shares=shares, top_features=top_features[:top])
