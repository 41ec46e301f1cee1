"""The command line: every area's commands are registered, and start-up stays light."""

from __future__ import annotations

import argparse
import subprocess
import sys

from twinledger.cli import build_parser
from twinledger.cli.anomaly import DETECTOR_NAMES


def test_every_area_registers_its_commands() -> None:
    parser = build_parser()
    commands = {
        name for action in parser._actions if isinstance(action, argparse._SubParsersAction) for name in action.choices
    }
    assert {"demo", "oee", "bill", "anomaly", "verify", "edge", "up", "package"} <= commands


def test_anomaly_detector_choices_match_the_library() -> None:
    from twin_models.anomaly import DETECTORS

    assert tuple(sorted(DETECTORS)) == DETECTOR_NAMES


def test_building_the_parser_loads_no_heavy_library() -> None:
    code = (
        "import sys; from twinledger.cli import build_parser; build_parser();"
        "print(','.join(m for m in ('sklearn', 'pandas', 'web3', 'moto', 'chalice') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
