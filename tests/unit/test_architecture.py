"""Architecture rules as tests (beside ``test_domain_purity.py``): who may import whom, where the environment
is read, and where imports may sit.

The rules, read from the source with ``ast`` (no module is imported):

1. **Areas talk through ports and the wiring.** In ``functions/chalicelib`` an area (``twins``, ``ingest``,
   ``oee``, ``anomaly``, ``billing``, ``anchoring``) imports its own modules, the ports, the shared modules
   (``errors``, ``http``, ``auth``, ``settings``) and the domain; only its ``routes`` import the wiring. No
   area imports another area or an adapter; adapters and ports import no area and not the wiring. In the
   domain, another area's package is used through its public ``__init__`` (``twin_models.oee``), never
   through its internals (``twin_models.oee.engine``).
2. **No hidden imports in ``functions/``**: a function body imports no first-party module (no ``import``
   inside a ``def``, no ``importlib.import_module`` / ``__import__``), so the import graph shows every tie.
3. **The environment is read in one place** per deployable: ``chalicelib/settings.py`` in the functions,
   ``edge_greengrass/config.py`` at the edge, nowhere in the domain.
4. **The edge stands alone**: ``edge_greengrass`` imports ``twin_models`` and itself, never ``twinledger``,
   ``chalicelib`` or ``app``.

Each checker is also run on a small source that breaks its rule, to show it can fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = REPO / "functions"
CHALICELIB = FUNCTIONS / "chalicelib"
FIRST_PARTY = {"chalicelib", "app", "twin_models", "twinledger", "edge_greengrass"}
AREAS = {"twins", "ingest", "oee", "anomaly", "billing", "anchoring", "parts", "maintenance"}
SHARED = {"errors", "http", "auth", "settings"}
DOMAIN_PACKAGES = {p.name for p in (REPO / "twin_models").iterdir() if (p / "__init__.py").is_file()}


@dataclass(frozen=True)
class Import:
    """One import statement: the module it names (absolute), where it is, and whether it sits in a function."""

    module: str
    line: int
    in_function: bool


def module_name(path: Path) -> str:
    """The dotted name a file is imported under (``functions/`` is a path root, as in Lambda)."""
    rel = path.relative_to(FUNCTIONS if path.is_relative_to(FUNCTIONS) else REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str, module: str, is_package: bool = False) -> Iterator[Import]:
    """Every import of a module's source, relative ones resolved against ``module``."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name, child.lineno, inside)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)] if child.level > 1 else base
                    name = ".".join([*base, child.module] if child.module else base)
                else:
                    name = child.module or ""
                yield Import(name, child.lineno, inside)
                for alias in child.names:  # "from chalicelib import wiring" imports chalicelib.wiring
                    if is_module(f"{name}.{alias.name}"):
                        yield Import(f"{name}.{alias.name}", child.lineno, inside)
            elif isinstance(child, ast.Call) and _dynamic_import(child):
                arg = child.args[0] if child.args else None
                target = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else "<dynamic>"
                yield Import(target, child.lineno, True)
            elif _is_type_checking_block(child):
                continue  # annotations only: not a run-time tie
            yield from visit(child, inside)

    yield from visit(tree, False)


def is_module(dotted: str) -> bool:
    """True when a dotted name is a first-party module or package (not a name inside a module).

    Example: ``chalicelib.wiring`` is a module, ``twin_models.billing.Invoice`` is not.
    """
    parts = dotted.split(".")
    if parts[0] not in FIRST_PARTY:
        return False
    base = (FUNCTIONS if parts[0] in {"chalicelib", "app"} else REPO).joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _dynamic_import(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name) and func.id == "__import__":
        return True
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def env_reads(source: str) -> Iterator[int]:
    """Lines that read the process environment (``os.environ``, ``os.getenv``, ``from os import environ``)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb"}:
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                yield node.lineno
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in {"environ", "getenv", "environb"} for a in node.names)
        ):
            yield node.lineno


def sources(root: Path) -> Iterator[tuple[Path, str, str]]:
    """``(path, module name, source)`` of every Python file under ``root`` (vendored code left out)."""
    for path in sorted(root.rglob("*.py")):
        if "vendor" in path.parts or "__pycache__" in path.parts:
            continue
        yield path, module_name(path), path.read_text(encoding="utf-8")


def _root(module: str) -> str:
    return module.split(".")[0]


def _layer(module: str) -> tuple[str, str]:
    """``("area", "oee")``, ``("ports", "oee")``, ``("adapters", ...)``, ``("shared", "http")``, ``("wiring", "")``."""
    parts = module.split(".")
    if parts[0] != "chalicelib" or len(parts) < 2:
        return ("other", module)
    head = parts[1]
    if head in AREAS:
        return ("area", head)
    if head in {"ports", "adapters"}:
        return (head, parts[2] if len(parts) > 2 else "")
    if head == "wiring":
        return ("wiring", "")
    if head in SHARED:
        return ("shared", head)
    return ("other", module)


def boundary_violations(module: str, found: Iterator[Import]) -> list[str]:
    """Rule 1 for one module of ``functions/`` or ``twin_models``: the imports that cross a boundary."""
    kind, area = _layer(module)
    bad: list[str] = []
    for imp in found:
        target_kind, target_area = _layer(imp.module)
        where = f"{module}:{imp.line} imports {imp.module}"
        if _root(imp.module) == "twin_models":
            parts = imp.module.split(".")
            own = module.split(".")[:2] if module.startswith("twin_models.") else []
            if len(parts) > 2 and parts[1] in DOMAIN_PACKAGES and own != parts[:2]:
                bad.append(f"{where}: another domain area's internals (use twin_models.{parts[1]})")
            continue
        if _root(imp.module) != "chalicelib" or kind in {"wiring", "other"}:
            continue
        if kind == "area":
            if target_kind == "area" and target_area != area:
                bad.append(f"{where}: another area (go through a port or the wiring)")
            elif target_kind == "adapters":
                bad.append(f"{where}: an adapter (only the wiring picks adapters)")
            elif target_kind == "wiring" and not module.endswith(".routes"):
                bad.append(f"{where}: the wiring, outside a routes module")
        elif kind in {"ports", "adapters", "shared"}:
            if target_kind in {"area", "wiring"}:
                bad.append(f"{where}: a {kind} module depends on {target_kind} {target_area}".rstrip())
            elif kind == "ports" and target_kind == "adapters":
                bad.append(f"{where}: a port depends on an adapter")
    return bad


def test_areas_talk_through_ports_and_the_wiring() -> None:
    bad: list[str] = []
    for root in (CHALICELIB, REPO / "twin_models"):
        for path, module, source in sources(root):
            bad += boundary_violations(module, imports(source, module, path.name == "__init__.py"))
    assert bad == []


def test_no_first_party_import_hides_in_a_function_body_in_functions() -> None:
    bad = [
        f"{module}:{imp.line} imports {imp.module} inside a function"
        for path, module, source in sources(FUNCTIONS)
        for imp in imports(source, module, path.name == "__init__.py")
        if imp.in_function and (_root(imp.module) in FIRST_PARTY or imp.module == "<dynamic>")
    ]
    assert bad == []


@pytest.mark.parametrize(
    ("root", "allowed"),
    [
        (FUNCTIONS, {CHALICELIB / "settings.py"}),
        (REPO / "edge_greengrass", {REPO / "edge_greengrass" / "config.py"}),
        (REPO / "twin_models", set()),
    ],
    ids=["functions", "edge_greengrass", "twin_models"],
)
def test_the_environment_is_read_in_the_settings_module_only(root: Path, allowed: set[Path]) -> None:
    bad = [
        f"{path.relative_to(REPO)}:{line}"
        for path, _, source in sources(root)
        if path not in allowed
        for line in env_reads(source)
    ]
    assert bad == []


def test_the_edge_imports_neither_the_command_line_nor_the_functions() -> None:
    bad = [
        f"{module}:{imp.line} imports {imp.module}"
        for path, module, source in sources(REPO / "edge_greengrass")
        for imp in imports(source, module, path.name == "__init__.py")
        if _root(imp.module) in {"twinledger", "chalicelib", "app"}
    ]
    assert bad == []


# -- each checker fails on a source that breaks its rule ---------------------------------------------------

BROKEN_AREA = """
from chalicelib.billing.service import BillingService
from chalicelib.adapters.twins import HistoryStore
from chalicelib.wiring import services
from twin_models.oee.engine import compute
from twin_models.oee import compute_oee
from chalicelib.ports.twins import History
from . import steps
"""


def test_the_boundary_checker_flags_cross_area_adapter_wiring_and_domain_internals() -> None:
    found = boundary_violations("chalicelib.ingest.pipeline", imports(BROKEN_AREA, "chalicelib.ingest.pipeline"))
    assert len(found) == 4, found
    assert any("another area" in f and "billing" in f for f in found)
    assert any("an adapter" in f for f in found)
    assert any("the wiring, outside a routes module" in f for f in found)
    assert any("twin_models.oee.engine" in f for f in found)
    assert boundary_violations("chalicelib.oee.routes", imports("from chalicelib.wiring import services", "m")) == []
    assert boundary_violations(
        "chalicelib.adapters.twins", imports("from chalicelib.twins.service import TwinQueries", "m")
    ) == ["chalicelib.adapters.twins:1 imports chalicelib.twins.service: a adapters module depends on area twins"]


def test_the_hidden_import_checker_sees_imports_in_functions_and_importlib() -> None:
    source = """
import json
def handler():
    from chalicelib.wiring import services
    import numpy
    importlib.import_module("chalicelib.adapters.memory")
    return lambda: __import__("twinledger")
"""
    hidden = [i.module for i in imports(source, "app") if i.in_function]
    assert hidden == ["chalicelib.wiring", "numpy", "chalicelib.adapters.memory", "twinledger"]
    assert [i.module for i in imports(source, "app") if not i.in_function] == ["json"]


def test_the_environment_checker_sees_every_spelling() -> None:
    source = "import os\nfrom os import getenv\na = os.environ['X']\nb = os.getenv('Y')\nc = 'os.environ'\n"
    assert list(env_reads(source)) == [2, 3, 4]


def test_relative_imports_resolve_against_the_package() -> None:
    found = [i.module for i in imports("from .service import X\nfrom ..ports import twins", "chalicelib.oee.routes")]
    assert found == ["chalicelib.oee.service", "chalicelib.ports", "chalicelib.ports.twins"]
