"""The pure domain never imports AWS, Chalice, IoT SDK, chain or Flower libraries, and never opens a file."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

FORBIDDEN = ("boto3", "botocore", "chalice", "awsiot", "awscrt", "web3", "eth_", "moto", "flwr")
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


def test_signing_opens_no_files() -> None:
    # Keys arrive as bytes (private_key_from_pem); reading the file is the gateway's job (edge_greengrass.pki).
    tree = ast.parse((ROOT / "signing.py").read_text())
    file_io = {"open", "read_bytes", "read_text", "write_bytes", "write_text", "Path", "pathlib", "os", "io"}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    used |= {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names
    }
    used |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert used & file_io == set()


# --- no file (or network) I/O -------------------------------------------------------------------------------
# The domain takes and returns text, bytes, dicts and frames; files live in ``twinledger.files``. A call is
# flagged by its resolved dotted name (import aliases followed: ``pd.read_csv`` is ``pandas.read_csv``).

#: Module functions that open, create or list files, or reach the network.
IO_CALLS = frozenset(
    {
        "open",
        "io.open",
        "os.open",
        "os.fdopen",
        "os.listdir",
        "os.makedirs",
        "os.mkdir",
        "os.remove",
        "os.rename",
        "os.replace",
        "os.scandir",
        "os.unlink",
        "os.walk",
        "tarfile.open",
        "zipfile.ZipFile",
        "gzip.open",
        "bz2.open",
        "lzma.open",
        "tempfile.TemporaryDirectory",
        "tempfile.NamedTemporaryFile",
        "tempfile.TemporaryFile",
        "tempfile.mkstemp",
        "tempfile.mkdtemp",
        "json.load",
        "json.dump",
        "pickle.load",
        "pickle.dump",
        "numpy.load",
        "numpy.save",
        "numpy.savez",
        "numpy.savez_compressed",
        "numpy.loadtxt",
        "numpy.savetxt",
        "numpy.genfromtxt",
        "numpy.fromfile",
        "sqlite3.connect",
    }
)
#: Modules whose every call is I/O (``socket.socket(...)``, ``urllib.request.urlopen(...)``, ...).
IO_MODULES = ("socket", "urllib", "requests", "http.client", "httpx", "aiohttp", "ftplib", "smtplib", "shutil")
#: Methods of path-like (or file-like) objects that touch the file system.
IO_METHODS = frozenset(
    {"read_text", "read_bytes", "write_text", "write_bytes", "open", "mkdir", "touch", "unlink", "iterdir", "tofile"}
)
#: pandas readers and writers: I/O unless handed an in-memory buffer (``io.StringIO(...)``/``io.BytesIO(...)``)
#: or, for a writer, no target at all (``frame.to_csv()`` returns the text).
PANDAS_IO = frozenset(
    {"read_csv", "read_json", "read_parquet", "read_table", "read_excel", "read_pickle", "read_feather", "read_hdf"}
    | {"to_csv", "to_json", "to_parquet", "to_excel", "to_pickle", "to_feather", "to_hdf"}
)
_BUFFERS = frozenset({"io.StringIO", "io.BytesIO"})


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted name, from every import in the module (``pd`` -> ``pandas``)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _in_memory(call: ast.Call, aliases: dict[str, str]) -> bool:
    target = call.args[0] if call.args else None
    for kw in call.keywords:
        if kw.arg in ("path_or_buf", "filepath_or_buffer", "path", "excel_writer"):
            target = kw.value
    if target is None or (isinstance(target, ast.Constant) and target.value is None):
        return True
    return isinstance(target, ast.Call) and _dotted(target.func, aliases) in _BUFFERS


def file_io_violations(source: str, module: str) -> list[str]:
    """``module:line: call`` for every call in ``source`` that opens a file or reaches the network."""
    tree = ast.parse(source, filename=module)
    aliases = _aliases(tree)
    found: list[tuple[int, str]] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append((getattr(node, "lineno", 0), what))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.module == "http":
                modules = [f"http.{a.name}" for a in node.names]
            for imported in modules:
                if any(imported == m or imported.startswith(f"{m}.") for m in IO_MODULES):
                    flag(node, f"import {imported}")
            continue
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if name is not None and (name in IO_CALLS or any(name.startswith(f"{m}.") for m in IO_MODULES)):
            flag(node, f"{name}()")
        elif method in PANDAS_IO or (name is not None and name.startswith("pandas.read_")):
            if not _in_memory(node, aliases):
                flag(node, f"{name if name and name.startswith('pandas.') else f'.{method}'}() on a path")
        elif method in IO_METHODS:
            flag(node, f".{method}()")
    return [f"{module}:{line}: {what}" for line, what in sorted(found)]


def test_no_module_under_twin_models_opens_a_file() -> None:
    violations = []
    for path in sorted(ROOT.rglob("*.py")):
        module = path.relative_to(ROOT.parent).as_posix()
        violations += file_io_violations(path.read_text(encoding="utf-8"), module)
    assert violations == [], "twin_models must not do file or network I/O (move it to twinledger.files):\n" + "\n".join(
        violations
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('open("x")', "open()"),
        ('with open("x", "rb") as fh:\n    fh.read()', "open()"),
        ('import io\nio.open("x")', "io.open()"),
        ('from pathlib import Path\nPath("x").read_text()', ".read_text()"),
        ('from pathlib import Path\n(Path("d") / "m.pkl").write_bytes(b"")', ".write_bytes()"),
        ('import tarfile\ntarfile.open("m.tar.gz")', "tarfile.open()"),
        ('from tarfile import open as topen\ntopen("m.tar.gz")', "tarfile.open()"),
        ('import zipfile\nzipfile.ZipFile("a.zip")', "zipfile.ZipFile()"),
        ('import pandas as pd\npd.read_csv("a.csv")', "pandas.read_csv() on a path"),
        ('import pandas as pd\npd.read_csv(path, sep=";")', "pandas.read_csv() on a path"),
        ('frame.to_csv("out.csv")', ".to_csv() on a path"),
        ('import numpy as np\nnp.load("a.npy")', "numpy.load()"),
        ('import numpy\nnumpy.save("a.npy", x)', "numpy.save()"),
        ('import sqlite3\nsqlite3.connect("db")', "sqlite3.connect()"),
        ("import socket", "import socket"),
        ("from urllib.request import urlopen", "import urllib.request"),
        ("import requests", "import requests"),
        ("from http import client", "import http.client"),
        ("import http.client", "import http.client"),
    ],
)
def test_the_file_io_check_flags(source: str, expected: str) -> None:
    violations = file_io_violations(source, "twin_models/example.py")
    assert violations and violations[0].startswith("twin_models/example.py:")
    assert violations[0].endswith(f": {expected}")


@pytest.mark.parametrize(
    "source",
    [
        'import io, pandas as pd\npd.read_csv(io.StringIO(text), sep=";")',
        "import io\nimport pandas\npandas.read_json(io.BytesIO(data))",
        "text = frame.to_csv(index=False)",
        "frame.to_json(None)",
        "import json, pickle\njson.loads(s), json.dumps(d), pickle.loads(b), pickle.dumps(m)",
        'from datetime import datetime\ndatetime.fromisoformat("2026-01-05T06:00:00Z")',
        "import http\nhttp.HTTPStatus(200)",
    ],
)
def test_the_file_io_check_passes_pure_code(source: str) -> None:
    assert file_io_violations(source, "twin_models/example.py") == []


def test_the_file_io_check_reports_module_and_line() -> None:
    source = "import json\n\n\ndef load(path):\n    return json.loads(open(path).read())\n"
    assert file_io_violations(source, "twin_models/oee/scenario.py") == ["twin_models/oee/scenario.py:5: open()"]
