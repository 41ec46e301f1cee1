"""Machine-state taxonomy: numeric state codes grouped into OEE categories.

Codes are grouped by hundreds so that a plant can add its own codes without
touching this module: every code in ``100..199`` is *running*, every code in
``600..699`` is a *breakdown*, and so on. Plant-specific codes outside the
default table get the category of their hundred; a :class:`StateTaxonomy` can
also map codes explicitly (for a controller that uses its own numbering).

Example:
    >>> from twin_models.states import DEFAULT_TAXONOMY, StateCategory
    >>> DEFAULT_TAXONOMY.category(603)
    <StateCategory.BREAKDOWN: 'breakdown'>
    >>> DEFAULT_TAXONOMY.category(150)  # a plant's own running code
    <StateCategory.RUNNING: 'running'>
    >>> StateCategory.PLANNED_STOP.is_planned_stop
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DEFAULT_TAXONOMY",
    "MAX_PLANT_CODES",
    "PlantStateCodes",
    "StateCategory",
    "StateCode",
    "StateTaxonomy",
    "UnknownStateError",
]


class UnknownStateError(ValueError):
    """A state name or code that the taxonomy cannot place in a category."""


class StateCategory(StrEnum):
    """OEE categories a machine state falls into (ISO 22400 / six big losses)."""

    RUNNING = "running"
    REDUCED_SPEED = "reduced_speed"
    IDLE = "idle"
    MICRO_STOP = "micro_stop"
    SETUP = "setup"
    BREAKDOWN = "breakdown"
    PLANNED_STOP = "planned_stop"
    NO_ORDER = "no_order"
    UNKNOWN = "unknown"

    @property
    def is_planned_stop(self) -> bool:
        """True where the time is excluded from planned production time."""
        return self in (StateCategory.PLANNED_STOP, StateCategory.NO_ORDER)

    @property
    def is_run(self) -> bool:
        """True where the machine is producing (micro-stops and reduced speed are run time)."""
        return self in (StateCategory.RUNNING, StateCategory.REDUCED_SPEED, StateCategory.MICRO_STOP)


class StateCode(IntEnum):
    """The default state codes. The hundred of a code is its category.

    ``LEASE_LOCKED`` (710) is the time the lessor's ``lease_lock`` held the machine: the gateway stamps it
    on every sample while the lock is applied, and as a planned stop it is not planned production time for
    the lessee (OEE leaves it out of availability).
    """

    UNKNOWN = 0
    RUNNING = 100
    REDUCED_SPEED = 200
    IDLE = 300
    WAITING_MATERIAL = 301
    WAITING_OPERATOR = 302
    MICRO_STOP = 400
    SETUP = 500
    TOOL_CHANGE = 501
    ADJUSTMENT = 502
    BREAKDOWN = 600
    SPINDLE_FAULT = 601
    COOLING_FAULT = 602
    TOOL_BREAKAGE = 603
    CRASH = 604
    PLANNED_BREAK = 700
    NO_SHIFT = 701
    PLANNED_MAINTENANCE = 702
    LEASE_LOCKED = 710
    NO_ORDER = 800


_BY_HUNDRED: dict[int, StateCategory] = {
    0: StateCategory.UNKNOWN,
    1: StateCategory.RUNNING,
    2: StateCategory.REDUCED_SPEED,
    3: StateCategory.IDLE,
    4: StateCategory.MICRO_STOP,
    5: StateCategory.SETUP,
    6: StateCategory.BREAKDOWN,
    7: StateCategory.PLANNED_STOP,
    8: StateCategory.NO_ORDER,
    9: StateCategory.UNKNOWN,
}

_DEFAULT_CODE_OF: dict[StateCategory, int] = {
    StateCategory.UNKNOWN: StateCode.UNKNOWN,
    StateCategory.RUNNING: StateCode.RUNNING,
    StateCategory.REDUCED_SPEED: StateCode.REDUCED_SPEED,
    StateCategory.IDLE: StateCode.IDLE,
    StateCategory.MICRO_STOP: StateCode.MICRO_STOP,
    StateCategory.SETUP: StateCode.SETUP,
    StateCategory.BREAKDOWN: StateCode.BREAKDOWN,
    StateCategory.PLANNED_STOP: StateCode.PLANNED_BREAK,
    StateCategory.NO_ORDER: StateCode.NO_ORDER,
}

#: Aliases accepted where a state is given by name (scenario files, MES exports).
_NAME_ALIASES: dict[str, int] = {
    **{c.value: code for c, code in _DEFAULT_CODE_OF.items()},
    **{c.name.lower(): int(c) for c in StateCode},
    "setup_adjustment": StateCode.SETUP,
    "changeover": StateCode.SETUP,
    "break": StateCode.PLANNED_BREAK,
    "planned_break": StateCode.PLANNED_BREAK,
    "planned_maintenance": StateCode.PLANNED_MAINTENANCE,
    "lease_locked": StateCode.LEASE_LOCKED,
    "no_shift": StateCode.NO_SHIFT,
    "microstop": StateCode.MICRO_STOP,
}


@dataclass(frozen=True)
class StateTaxonomy:
    """Maps state codes (and names) to :class:`StateCategory`.

    ``overrides`` maps a plant's own codes to a category explicitly; any other
    code falls into the category of its hundred (``1xx`` running, ``6xx``
    breakdown, ...). Codes outside ``0..999`` are rejected.

    Example:
        >>> t = StateTaxonomy(overrides={1234: StateCategory.SETUP})
        >>> t.category(1234), t.category(301)
        (<StateCategory.SETUP: 'setup'>, <StateCategory.IDLE: 'idle'>)
        >>> t.code("breakdown")
        600
    """

    overrides: Mapping[int, StateCategory] = field(default_factory=dict)

    def category(self, code: int) -> StateCategory:
        """The category of a numeric state code."""
        found = self.overrides.get(code)
        if found is not None:
            return found
        if not 0 <= code <= 999:
            raise UnknownStateError(f"state code {code} is outside 0..999 and has no plant mapping")
        return _BY_HUNDRED[code // 100]

    def knows(self, code: int) -> bool:
        """True when ``code`` has a category in this taxonomy.

        Example:
            >>> DEFAULT_TAXONOMY.knows(100), DEFAULT_TAXONOMY.knows(1500)
            (True, False)
        """
        return code in self.overrides or 0 <= code <= 999

    def code(self, state: str | int) -> int:
        """A numeric code for a state given as a code, a numeric string, a category or a known name."""
        if isinstance(state, bool):
            raise UnknownStateError(f"not a state: {state!r}")
        if isinstance(state, int):
            self.category(state)
            return state
        text = state.strip().lower()
        if text.lstrip("-").isdigit():
            return self.code(int(text))
        if text in _NAME_ALIASES:
            return int(_NAME_ALIASES[text])
        raise UnknownStateError(f"unknown state name {state!r}")

    def category_of(self, state: str | int) -> StateCategory:
        """The category of a state given by code or by name."""
        return self.category(self.code(state))

    @staticmethod
    def default_code(category: StateCategory) -> int:
        """The canonical code of a category (``running`` -> 100)."""
        return int(_DEFAULT_CODE_OF[category])


DEFAULT_TAXONOMY = StateTaxonomy()


#: The most codes a plant's mapping may hold.
MAX_PLANT_CODES = 1000
_FIXED_CODES = frozenset(int(c) for c in StateCode)


class PlantStateCodes(BaseModel):
    """A plant's own state codes mapped onto the categories: what its controllers send that the default
    table does not know (codes ``1000..9999``), or a code of ``0..999`` the plant uses differently from its
    hundred. The codes the platform itself gives a meaning (:class:`StateCode`: ``710`` lease-locked, ``702``
    maintenance mode, ...) keep it: mapping one is refused.

    One mapping per site; ingest parses, meters and reports the site's machines with it, and OEE, the
    timeline and the usage statistics read their history with it.

    Example:
        >>> codes = PlantStateCodes.model_validate({"codes": {"1500": "running", "150": "idle"}})
        >>> t = codes.taxonomy()
        >>> t.category(1500).value, t.category(150).value, t.category(100).value
        ('running', 'idle', 'running')
        >>> PlantStateCodes.model_validate({"codes": {"710": "running"}})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        pydantic_core._pydantic_core.ValidationError: 1 validation error for PlantStateCodes
        codes
          Value error, 710 is the platform's own lease_locked code and keeps its meaning ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    codes: Annotated[
        dict[Annotated[int, Field(ge=0, le=9999)], StateCategory],
        Field(max_length=MAX_PLANT_CODES, description="a plant's state code (0..9999) -> its category"),
    ] = Field(default_factory=dict)

    @field_validator("codes")
    @classmethod
    def _not_fixed(cls, value: dict[int, StateCategory]) -> dict[int, StateCategory]:
        for code in sorted(value):
            if code in _FIXED_CODES and value[code] is not DEFAULT_TAXONOMY.category(code):
                raise ValueError(
                    f"{code} is the platform's own {StateCode(code).name.lower()} code and keeps its meaning"
                )
        return value

    def taxonomy(self) -> StateTaxonomy:
        """The taxonomy the site's data is read with."""
        return StateTaxonomy(overrides=dict(self.codes)) if self.codes else DEFAULT_TAXONOMY
