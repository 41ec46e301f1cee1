"""The lessee's Greengrass component: a SuperNode over TLS with its own key, and no IPC permission at all."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "edge_greengrass" / "components" / "com.twinledger.FederatedClient"


def _recipe() -> dict[str, Any]:
    recipe: dict[str, Any] = yaml.safe_load((FOLDER / "recipe.yaml").read_text())
    return recipe


def test_the_supernode_uses_tls_and_its_own_key() -> None:
    run = _recipe()["Manifests"][0]["Lifecycle"]["Run"]["Script"]
    assert run.startswith("{work:path}/venv/bin/flower-supernode")
    assert "--insecure" not in run  # TLS to the SuperLink (its NLB listener)
    assert "--auth-supernode-private-key {work:path}/keys/supernode.key" in run
    assert "partition-id={configuration:/partition_id}" in run and "{configuration:/data_dir}" in run


def test_no_ipc_operation_is_granted() -> None:
    defaults = _recipe()["ComponentConfiguration"]["DefaultConfiguration"]
    assert "accessControl" not in defaults
    assert set(defaults) == {"superlink", "partition_id", "data_dir"}


def test_the_install_adds_the_federated_extra_and_the_version_matches() -> None:
    recipe = _recipe()
    assert recipe["ComponentName"] == FOLDER.name
    install = recipe["Manifests"][0]["Lifecycle"]["Install"]["Script"]
    assert "[federated]" in install and "python3 -m venv {work:path}/venv" in install
    gdk = json.loads((FOLDER / "gdk-config.json").read_text())
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert gdk["component"][FOLDER.name]["version"] == version
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("flwr") for d in extras["federated"])
