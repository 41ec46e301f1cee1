"""Part identity: one id per produced part, from the scheme the lessee configures for the machine.

Every part has two names:

* ``part_id`` — the API's name, ``<machine_id>:<cycle end, epoch ms>:<controller count>``. The cycle's end
  (the instant the controller counted the part) is in it, so a counter reset never reuses an id: the count
  repeats, the instant does not.
* ``epc`` — the identifier EPCIS events carry (``epcList``), by the machine's :class:`PartIdScheme`:

  * ``urn`` (the default): ``urn:twinledger:part:<part_id>``, the project's own URN;
  * ``sgtin``: the GS1 EPC URI ``urn:epc:id:sgtin:<company prefix>.<indicator + item reference>.<serial>``;
  * ``digital_link``: the GS1 Digital Link URI ``https://id.gs1.org/01/<GTIN-14>/21/<serial>``.

  The GTIN comes per program (``programs``, else ``default``); the serial is
  ``<machine_code>-<cycle end in base 36 seconds>-<count in base 36>``, upper case (GS1 AI 21, at most 20
  characters). A part whose program has no GTIN, or whose serial would be longer, is named by the URN.

Example:
    >>> from datetime import UTC, datetime
    >>> end = datetime(2026, 1, 5, 6, 0, 30, tzinfo=UTC)
    >>> part_id("cnc-01", end, 42)
    'cnc-01:1767592830000:42'
    >>> scheme = PartIdScheme(kind="sgtin", machine_code="C01", default=Gtin(company_prefix="4012345",
    ...                       item_reference="011111"))
    >>> scheme.epc("cnc-01", "P100", end, 42)
    'urn:epc:id:sgtin:4012345.011111.C01-T8DNCU-16'
    >>> scheme.model_copy(update={"kind": "digital_link"}).epc("cnc-01", "P100", end, 42)
    'https://id.gs1.org/01/04012345111118/21/C01-T8DNCU-16'
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from twin_models.timestamps import to_micros

__all__ = ["MAX_SERIAL", "Gtin", "PartIdScheme", "base36", "gs1_check_digit", "part_id"]

#: GS1 AI 21 (serial number): at most 20 characters.
MAX_SERIAL = 20
_DIGITS36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def base36(value: int) -> str:
    """A non-negative integer in upper-case base 36.

    Example:
        >>> base36(0), base36(35), base36(36)
        ('0', 'Z', '10')
    """
    if value < 0:
        raise ValueError("base36 of a negative number")
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = _DIGITS36[rest] + out
        if value == 0:
            return out


def gs1_check_digit(digits: str) -> int:
    """The GS1 check digit (GS1 General Specifications 7.9.1) of a key's digits without it.

    Example:
        >>> gs1_check_digit("0401234511111")
        8
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def part_id(machine_id: str, cycle_end: datetime, count: int) -> str:
    """The API's id of the part the controller counted as ``count`` at ``cycle_end`` on ``machine_id``."""
    return f"{machine_id}:{to_micros(cycle_end) // 1000}:{count}"


class Gtin(BaseModel):
    """A product's GTIN as its SGTIN parts: the GS1 company prefix and the indicator digit + item reference
    (13 digits together)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    company_prefix: Annotated[str, Field(pattern=r"^\d{6,12}$")]
    item_reference: Annotated[str, Field(pattern=r"^\d{1,7}$", description="indicator digit + item reference")]

    @model_validator(mode="after")
    def _thirteen_digits(self) -> Gtin:
        if len(self.company_prefix) + len(self.item_reference) != 13:
            raise ValueError("company_prefix and item_reference must have 13 digits together")
        return self

    @property
    def gtin14(self) -> str:
        """The GTIN-14 with its check digit."""
        raw = self.item_reference[0] + self.company_prefix + self.item_reference[1:]
        return raw + str(gs1_check_digit(raw))


class PartIdScheme(BaseModel):
    """How a machine's parts are named (configured by its lessee); see the module documentation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["urn", "sgtin", "digital_link"] = "urn"
    machine_code: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,6}$")] | None = Field(
        default=None,
        validate_default=True,
        description="the machine's short code in GS1 serials (unique among the lessee's machines)",
    )
    programs: Annotated[dict[Annotated[str, Field(max_length=64)], Gtin], Field(max_length=200)] = Field(
        default_factory=dict, description="program -> GTIN of the product it makes"
    )
    default: Gtin | None = None

    @field_validator("machine_code")
    @classmethod
    def _gs1_needs_a_code(cls, code: str | None, info: ValidationInfo) -> str | None:
        # a field's own check, so that the error names ``machine_code`` (a kind that did not fit is absent)
        if code is None and info.data.get("kind", "urn") != "urn":
            raise ValueError("machine_code is required for GS1 identifiers")
        return code

    def serial(self, cycle_end: datetime, count: int) -> str | None:
        """The GS1 serial of a part, or None when it would exceed :data:`MAX_SERIAL` characters."""
        seconds = to_micros(cycle_end) // 1_000_000
        text = f"{self.machine_code}-{base36(max(seconds, 0))}-{base36(count)}"
        return text if len(text) <= MAX_SERIAL else None

    def epc(self, machine_id: str, program: str, cycle_end: datetime, count: int) -> str:
        """The part's identifier in EPCIS events."""
        urn = f"urn:twinledger:part:{part_id(machine_id, cycle_end, count)}"
        gtin = self.programs.get(program, self.default)
        if self.kind == "urn" or gtin is None:
            return urn
        serial = self.serial(cycle_end, count)
        if serial is None:
            return urn
        if self.kind == "sgtin":
            return f"urn:epc:id:sgtin:{gtin.company_prefix}.{gtin.item_reference}.{serial}"
        return f"https://id.gs1.org/01/{gtin.gtin14}/21/{serial}"
