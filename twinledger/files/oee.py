"""OEE scenario files (the format: ``docs/oee.md``); validation is ``twin_models.oee.parse_scenario``'s.

Example:
    >>> from twin_models.oee import evaluate_scenario
    >>> round(evaluate_scenario(load_scenario("docs/examples/oee-worksheet.json")).total.oee, 4)
    0.7479
"""

from __future__ import annotations

from pathlib import Path

from twin_models.oee import OeeInputError, Scenario, parse_scenario

__all__ = ["load_scenario"]


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; a missing or bad file raises :class:`OeeInputError` saying why.

    Example:
        >>> load_scenario("no/such/scenario.json")
        Traceback (most recent call last):
        ...
        twin_models.oee.errors.OeeInputError: cannot read scenario no/such/scenario.json: No such file or directory
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise OeeInputError(f"cannot read scenario {file}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise OeeInputError(f"{file} is not UTF-8 text: {exc}") from exc
    return parse_scenario(text, source=str(file))
