"""Which machine component a signal belongs to: the one rule anomaly diagnosis and the maintenance log share.

It lives outside :mod:`twin_models.anomaly`, whose package loads the numeric stack, so the Lambda side can use
it without pandas or scikit-learn.

Example:
    >>> component_of("vibration_rms_mm_s"), component_of("temperature_c"), component_of("x")
    ('spindle_bearings', 'cooling_system', 'general_inspection')
"""

from __future__ import annotations

import re

__all__ = ["component_of"]

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("tool_change", re.compile(r"wear|tool|load|torque|current|power|strain", re.I)),
    ("spindle_bearings", re.compile(r"vib|bearing|kurt|crest|peak|rms|^b\d", re.I)),
    ("cooling_system", re.compile(r"temp|thermal|coolant|heat", re.I)),
)


def component_of(feature: str) -> str:
    """The component a feature name belongs to (``general_inspection`` when none matches)."""
    for component, pattern in _RULES:
        if pattern.search(feature):
            return component
    return "general_inspection"
