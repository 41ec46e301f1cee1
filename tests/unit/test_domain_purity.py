"""The pure domain never imports AWS, Chalice, IoT SDK or chain libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("boto3", "botocore", "chalice", "awsiot", "awscrt", "web3", "eth_", "moto")
ROOT = Path(__file__).resolve().parents[2] / "twin_models"


def test_no_forbidden_import_statement_in_twin_models() -> None:
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0].startswith(FORBIDDEN)]
    assert offenders == []


def test_importing_every_twin_models_module_loads_none_of_them() -> None:
    code = (
        "import importlib, pkgutil, sys, twin_models\n"
        "for m in pkgutil.walk_packages(twin_models.__path__, 'twin_models.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0].startswith({FORBIDDEN!r}))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
