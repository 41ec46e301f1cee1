"""The configuration a plant pushes to a machine's edge, and the limits of a shadow document.

One settings model for the cloud and the edge: the API validates ``PUT /machines/{id}/desired`` with
:class:`DesiredConfig`, and the gateway's shadow sync checks every delta with the same model (same
fields, same ranges). :func:`check_shadow_state` is the one rule for a shadow state's size and depth
(AWS IoT: 8 KB, 6 levels), for desired and reported alike.

A module of pydantic alone, so the Greengrass component carries it without the analytics.

Example:
    >>> DesiredConfig(sampling_interval_s=2).fields_set()
    {'sampling_interval_s': 2.0}
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_SHADOW_DEPTH",
    "MAX_SHADOW_STATE_BYTES",
    "DesiredConfig",
    "ProductionOrderKey",
    "ShadowDocumentError",
    "check_shadow_state",
    "state_depth",
    "state_size",
]


#: AWS IoT's limit on a shadow's state (``desired`` and ``reported``, metadata excluded), in bytes.
MAX_SHADOW_STATE_BYTES = 8 * 1024
#: AWS IoT's limit on the levels of nesting under ``desired`` / ``reported``.
MAX_SHADOW_DEPTH = 6


class ShadowDocumentError(ValueError):
    """A shadow state AWS IoT would refuse: over :data:`MAX_SHADOW_STATE_BYTES` or too deeply nested."""

    def __init__(self, message: str, *, too_large: bool) -> None:
        super().__init__(message)
        self.too_large = too_large


def state_depth(value: Any) -> int:
    """Levels of object keys in a JSON value (arrays add no level), as AWS IoT counts them.

    Example:
        >>> state_depth({"a": {"b": [1, {"c": 2}]}})
        3
    """
    if isinstance(value, dict):
        return 1 + max((state_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return max((state_depth(v) for v in value), default=0)
    return 0


def state_size(value: Any) -> int:
    """Bytes of a JSON value in its compact UTF-8 form (what AWS IoT measures against the 8 KB limit)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def check_shadow_state(sections: dict[str, Any]) -> None:
    """The one rule for a shadow state, desired and reported alike: at most 8 KB, at most 6 levels deep.

    Example:
        >>> check_shadow_state({"desired": {"a": 1}})
        >>> check_shadow_state({"desired": {"a": "x" * 9000}})
        Traceback (most recent call last):
        ...
        twin_models.device_config.ShadowDocumentError: the shadow state is 9020 bytes; at most 8192 are allowed
    """
    for section, value in sections.items():
        if value is not None and state_depth(value) > MAX_SHADOW_DEPTH:
            raise ShadowDocumentError(
                f"{section}: JSON nested {state_depth(value)} levels deep; at most {MAX_SHADOW_DEPTH}",
                too_large=False,
            )
    size = state_size({k: v for k, v in sections.items() if v})
    if size > MAX_SHADOW_STATE_BYTES:
        raise ShadowDocumentError(
            f"the shadow state is {size} bytes; at most {MAX_SHADOW_STATE_BYTES} are allowed", too_large=True
        )


#: The keys of the production order a plant (its MES, or a user through the API) sets on a machine.
ProductionOrderKey = Literal["order_id", "material_lot", "product"]


class DesiredConfig(BaseModel):
    """Configuration a plant may push to a machine's edge through the ``config`` shadow's desired section.

    Only the fields given are changed. ``lease_lock`` (stop production when a lease ends or is
    suspended) is the lessor's; a lessee sets production parameters; a technician sets
    maintenance mode.

    Example:
        >>> DesiredConfig(maintenance_mode=True).forbidden_for("lessee")
        []
        >>> DesiredConfig(lease_lock=True).forbidden_for("lessee")
        ['lease_lock']
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"minProperties": 1})

    sampling_interval_s: Annotated[float, Field(ge=0.1, le=60)] | None = None
    #: ideal cycle time (s per part) per program, ``"*"`` for any other program; ``null`` for a program
    #: deletes it (AWS IoT's rule for a desired key)
    ideal_cycle_times_s: (
        Annotated[
            dict[Annotated[str, Field(min_length=1, max_length=64)], Annotated[float, Field(gt=0, le=86400)] | None],
            Field(max_length=50),
        ]
        | None
    ) = None
    maintenance_mode: bool | None = None
    lease_lock: bool | None = None
    #: the production order in effect: ``order_id``, ``material_lot`` and ``product`` (the gateway stamps
    #: every sample with them, so every part knows its order and lot); ``null`` for a key clears it
    production_order: dict[ProductionOrderKey, Annotated[str, Field(min_length=1, max_length=64)] | None] | None = None

    _ALLOWED: ClassVar[dict[str, frozenset[str]]] = {
        "lessor": frozenset({"sampling_interval_s", "ideal_cycle_times_s", "maintenance_mode", "lease_lock"}),
        "lessee": frozenset({"sampling_interval_s", "ideal_cycle_times_s", "maintenance_mode", "production_order"}),
        "technician": frozenset({"maintenance_mode", "sampling_interval_s"}),
        "service": frozenset({"production_order"}),
    }

    def fields_set(self) -> dict[str, Any]:
        """The fields given, as JSON-ready values; a field given as ``null`` is ``None`` (delete it).

        Example:
            >>> DesiredConfig.model_validate({"maintenance_mode": None, "lease_lock": True}).fields_set()
            {'lease_lock': True, 'maintenance_mode': None}
        """
        values = self.model_dump(mode="json")
        return {k: values[k] for k in sorted(self.model_fields_set)}

    def forbidden_for(self, role: str) -> list[str]:
        """Fields this role may not set (or delete)."""
        allowed = self._ALLOWED.get(role, frozenset())
        return sorted(k for k in self.fields_set() if k not in allowed)

    def payload(self) -> bytes:
        """The ``UpdateThingShadow`` payload: the fields given as desired, ``null`` deleting a desired key
        (AWS IoT semantics); :class:`ShadowDocumentError` when AWS IoT would refuse the state."""
        desired = self.fields_set()
        check_shadow_state({"desired": desired})
        return json.dumps({"state": {"desired": desired}}, separators=(",", ":")).encode()
