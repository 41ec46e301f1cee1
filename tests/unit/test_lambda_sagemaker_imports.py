"""The Lambda bundle never uses the ``sagemaker`` SDK: endpoints are called with boto3 ``sagemaker-runtime``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def _sources() -> list[Path]:
    return sorted(p for p in FUNCTIONS.rglob("*.py") if "vendor" not in p.relative_to(FUNCTIONS).parts)


def test_no_module_under_functions_imports_the_sagemaker_sdk() -> None:
    offenders = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif (  # importlib.import_module("sagemaker...") / __import__("sagemaker...")
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                names = [node.args[0].value]
            rel = path.relative_to(FUNCTIONS)
            offenders += [f"{rel}: {n}" for n in names if n.split(".")[0] == "sagemaker"]
    assert offenders == []


def test_sagemaker_clients_under_functions_are_the_runtime_only() -> None:
    clients = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "client"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.startswith("sagemaker")
            ):
                clients.add(node.args[0].value)
    assert clients == {"sagemaker-runtime"}


def test_the_lambda_requirements_do_not_carry_the_sdk() -> None:
    lines = (FUNCTIONS / "requirements.txt").read_text().splitlines()
    names = {line.split("#")[0].strip().split(">")[0].split("=")[0].split("<")[0].split("[")[0] for line in lines}
    assert not {n for n in names if n.startswith("sagemaker")}


def test_importing_the_chalice_app_loads_no_sagemaker_module() -> None:
    code = "import sys, app\nprint(','.join(sorted(m for m in sys.modules if m.split('.')[0] == 'sagemaker')))"
    done = subprocess.run([sys.executable, "-c", code], cwd=FUNCTIONS, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
