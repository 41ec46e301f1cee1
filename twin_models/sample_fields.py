"""The telemetry sample fields anomaly scoring reads: one list for the gateway-to-endpoint path and the
model's window features.

A module without imports, so the ingest Lambda (which sends samples to the endpoint) and the SageMaker
model container (which builds the features) both carry it without each other's libraries.

Example:
    >>> "vibration_rms_mm_s" in FEATURE_INPUT_FIELDS
    True
"""

from __future__ import annotations

__all__ = ["FEATURE_INPUT_FIELDS"]


#: The sample fields anomaly scoring reads (besides ``ts``): what a sample sent to the anomaly endpoint
#: needs, and the columns of the window features (``twin_models.anomaly.samples_frame``). All are
#: :class:`twin_models.telemetry.Sample` fields except ``spindle_torque_nm``, an optional extra some
#: controllers report (power is derived from it where no power meter reports).
FEATURE_INPUT_FIELDS: tuple[str, ...] = (
    "spindle_speed_rpm",
    "spindle_load_pct",
    "spindle_current_a",
    "vibration_rms_mm_s",
    "temperature_c",
    "power_kw",
    "tool_wear_pct",
    "spindle_torque_nm",
)
