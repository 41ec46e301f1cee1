"""Under Greengrass: configuration and publishing through IPC, against a fake IPC client that enforces
the recipe's own access control, and the recipes themselves (schema, least privilege, lifecycle)."""

from __future__ import annotations

import ast
import fnmatch
import json
import stat
import subprocess
import sys
import threading
import time
import tomllib
import zipfile
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from awsiot.greengrasscoreipc.model import (
    QOS,
    GetConfigurationResponse,
    IoTCoreMessage,
    MQTTMessage,
    PublishToIoTCoreResponse,
    SubscribeToIoTCoreResponse,
    UnauthorizedError,
)

from edge_greengrass.config import SimulatorSourceConfig, load_config_dict
from edge_greengrass.greengrass import gateway_config_from_ipc
from edge_greengrass.pki import load_private_key, provision_device
from edge_greengrass.runner import Gateway
from edge_greengrass.shadow import shadow_topic
from edge_greengrass.transport import IpcTransport
from twin_models.jws import jws_header, open_jws
from twin_models.telemetry import topic_for

COMPONENTS = Path(__file__).resolve().parents[2] / "edge_greengrass" / "components"
PUBLISHER = COMPONENTS / "com.twinledger.TelemetryPublisher"
SIMULATOR = COMPONENTS / "com.twinledger.MachineSimulator"
THING = "cnc-01"


def _recipe(folder: Path) -> dict[str, Any]:
    recipe: dict[str, Any] = yaml.safe_load((folder / "recipe.yaml").read_text())
    return recipe


def _allowed(recipe: dict[str, Any], operation: str, thing: str) -> list[str]:
    policies = recipe["ComponentConfiguration"]["DefaultConfiguration"].get("accessControl", {})
    return [
        resource.replace("{iot:thingName}", thing)
        for service in policies.values()
        for policy in service.values()
        if f"aws.greengrass#{operation}" in policy["operations"]
        for resource in policy["resources"]
    ]


class FakeIpcClient:
    """Records IPC calls and, like the nucleus, refuses topics outside the recipe's access control."""

    def __init__(self, recipe: dict[str, Any], thing: str, config: dict[str, Any]) -> None:
        self.publish_allowed = _allowed(recipe, "PublishToIoTCore", thing)
        self.subscribe_allowed = _allowed(recipe, "SubscribeToIoTCore", thing)
        self.config = config
        self.published: list[tuple[str, str, bytes]] = []
        self.subscriptions: dict[str, Any] = {}
        self.fail_next = 0
        self.lock = threading.Lock()

    def get_configuration(self, *, key_path: list[str]) -> GetConfigurationResponse:
        return GetConfigurationResponse(component_name="com.twinledger.TelemetryPublisher", value=self.config)

    def publish_to_iot_core_async(self, *, topic_name: str, qos: str, payload: bytes) -> Future[Any]:
        future: Future[Any] = Future()
        if not any(fnmatch.fnmatchcase(topic_name, pattern) for pattern in self.publish_allowed):
            future.set_exception(UnauthorizedError(message=f"not authorized for {topic_name}"))
            return future
        with self.lock:
            if self.fail_next and topic_name.endswith("/telemetry"):
                self.fail_next -= 1
                future.set_exception(ConnectionError("nucleus restarting"))
                return future
            self.published.append((topic_name, qos, payload))
        future.set_result(PublishToIoTCoreResponse())
        return future

    def subscribe_to_iot_core(self, *, topic_name: str, qos: str, on_stream_event: Any, on_stream_error: Any) -> Any:
        if not any(fnmatch.fnmatchcase(topic_name, pattern) for pattern in self.subscribe_allowed):
            raise UnauthorizedError(message=f"not authorized to subscribe to {topic_name}")
        self.subscriptions[topic_name] = on_stream_event

        class Operation:
            def close(self) -> Future[None]:
                done: Future[None] = Future()
                done.set_result(None)
                return done

        return SubscribeToIoTCoreResponse(), Operation()

    def deliver(self, topic: str, payload: dict[str, Any]) -> None:
        message = IoTCoreMessage(message=MQTTMessage(topic_name=topic, payload=json.dumps(payload).encode()))
        self.subscriptions[topic](message)


def _component_config(workdir: Path, **source: Any) -> dict[str, Any]:
    config = dict(_recipe(PUBLISHER)["ComponentConfiguration"]["DefaultConfiguration"])
    config["source"] = {"type": "simulator", "machines": 1, "seed": 7, **source}
    return config


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AWS_IOT_THING_NAME", THING)
    provision_device(tmp_path / "keys", THING)  # what the recipe's Install step does
    return tmp_path


def test_ipc_transport_publishes_with_qos1_and_reports_failures() -> None:
    fake = FakeIpcClient(_recipe(PUBLISHER), THING, {})
    transport = IpcTransport(fake)
    transport.publish(THING, topic_for("plant-a", THING), b"{}").result(1)
    assert fake.published == [("dt/twinledger/plant-a/cnc-01/telemetry", QOS.AT_LEAST_ONCE, b"{}")]
    refused = transport.publish(THING, topic_for("plant-a", "cnc-02"), b"{}")
    with pytest.raises(Exception, match="not authorized"):
        refused.result(1)


def test_component_runs_the_gateway_over_ipc_with_least_privilege(workdir: Path) -> None:
    # Given: the recipe's default configuration, with the simulator as source (fast), and a flaky nucleus
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    fake = FakeIpcClient(_recipe(PUBLISHER), THING, _component_config(workdir, speed=600, start=start.isoformat()))
    fake.fail_next = 2
    config = gateway_config_from_ipc(fake, workdir=workdir)
    assert config.signing.key_file == workdir / "keys" / f"{THING}.key" and config.transport == "ipc"
    gateway = Gateway(config, IpcTransport(fake))
    runner = threading.Thread(target=gateway.run, kwargs={"duration_s": 2.5})
    runner.start()
    try:
        # When: the shadow service sends a delta while it runs
        deadline = time.monotonic() + 5
        delta_topic = shadow_topic(THING, "config", "update/delta")
        while delta_topic not in fake.subscriptions and time.monotonic() < deadline:
            time.sleep(0.02)
        fake.deliver(delta_topic, {"state": {"maintenance_mode": True, "sampling_interval_s": 5}, "version": 3})
    finally:
        runner.join(10)
        gateway.close()
    # Then: telemetry went out in order, signed; the delta was applied and reported back
    public_key = load_private_key(workdir / "keys" / f"{THING}.key").public_key()
    telemetry = [p for t, _, p in fake.published if t == topic_for("plant-a", THING)]
    seqs = []
    for payload in telemetry:
        envelope, _ = open_jws(payload, jws_header(payload), public_key, now=datetime.now(UTC))
        seqs.append(envelope.seq)
    assert len(seqs) >= 5 and seqs == sorted(set(seqs)) == list(range(len(seqs)))  # no gap after failures
    assert gateway.publisher.metrics.publish_failures == 2
    reports = [json.loads(p) for t, _, p in fake.published if t == shadow_topic(THING, "config", "update")]
    assert reports[-1]["state"]["reported"]["maintenance_mode"] is True
    assert reports[-1]["state"]["reported"]["sampling_interval_s"] == 5.0
    last = open_jws(telemetry[-1], jws_header(telemetry[-1]), public_key, now=datetime.now(UTC))[0]
    assert last.samples[-1].state == 702  # planned maintenance while maintenance_mode is on


# -- recipes -------------------------------------------------------------------------------------

RECIPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["RecipeFormatVersion", "ComponentName", "ComponentVersion", "ComponentPublisher", "Manifests"],
    "properties": {
        "RecipeFormatVersion": {"const": "2020-01-25"},
        "ComponentName": {"type": "string", "pattern": r"^com\.twinledger\.[A-Za-z]+$"},
        "ComponentVersion": {"type": "string"},
        "ComponentDescription": {"type": "string", "minLength": 20},
        "ComponentPublisher": {"type": "string"},
        "ComponentConfiguration": {
            "type": "object",
            "properties": {"DefaultConfiguration": {"type": "object"}},
            "additionalProperties": False,
        },
        "Manifests": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["Platform", "Lifecycle", "Artifacts"],
                "properties": {
                    "Platform": {"type": "object", "properties": {"os": {"enum": ["linux", "windows", "darwin"]}}},
                    "Artifacts": {
                        "type": "array",
                        "items": {"type": "object", "required": ["URI"], "properties": {"URI": {"type": "string"}}},
                    },
                    "Lifecycle": {
                        "type": "object",
                        "required": ["Install", "Run"],
                        "additionalProperties": False,
                        "properties": {
                            "Install": {"$ref": "#/$defs/step"},
                            "Run": {"$ref": "#/$defs/step"},
                        },
                    },
                },
            },
        },
    },
    "additionalProperties": False,
    "$defs": {
        "step": {
            "type": "object",
            "required": ["Script"],
            "properties": {
                "Script": {"type": "string"},
                "RequiresPrivilege": {"const": False},
                "Timeout": {"type": "integer"},
            },
            "additionalProperties": False,
        }
    },
}

ACCESS_CONTROL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"enum": ["aws.greengrass.ipc.mqttproxy"]},
    "additionalProperties": {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "required": ["policyDescription", "operations", "resources"],
            "additionalProperties": False,
            "properties": {
                "policyDescription": {"type": "string"},
                "operations": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"enum": ["aws.greengrass#PublishToIoTCore", "aws.greengrass#SubscribeToIoTCore"]},
                },
                "resources": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string", "pattern": r"\{iot:thingName\}", "not": {"pattern": r"#"}},
                },
            },
        },
    },
}


@pytest.mark.parametrize("folder", [PUBLISHER, SIMULATOR], ids=lambda p: p.name)
def test_recipe_schema_lifecycle_and_gdk_config(folder: Path) -> None:
    recipe = _recipe(folder)
    jsonschema.validate(recipe, RECIPE_SCHEMA)
    assert recipe["ComponentName"] == folder.name
    lifecycle = recipe["Manifests"][0]["Lifecycle"]
    assert "python3 -m venv {work:path}/venv" in lifecycle["Install"]["Script"]
    assert "{work:path}/venv/bin/python3 -u {artifacts:path}/main.py" in lifecycle["Run"]["Script"]
    gdk = json.loads((folder / "gdk-config.json").read_text())
    build = gdk["component"][folder.name]["build"]
    project = tomllib.loads((COMPONENTS.parents[1] / "pyproject.toml").read_text())["project"]["version"]
    assert gdk["component"][folder.name]["version"] == project  # the custom build lays out this version
    assert build["build_system"] == "custom" and (folder / build["custom_build_command"][1]).resolve().is_file()
    # main.py wires, it does not implement: a dozen lines and one call
    tree = ast.parse((folder / "main.py").read_text())
    assert len([n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]) == 0
    assert len((folder / "main.py").read_text().splitlines()) <= 15


def test_publisher_access_control_is_least_privilege_and_sufficient() -> None:
    recipe = _recipe(PUBLISHER)
    defaults = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    jsonschema.validate(defaults["accessControl"], ACCESS_CONTROL_SCHEMA)
    publish, subscribe = _allowed(recipe, "PublishToIoTCore", THING), _allowed(recipe, "SubscribeToIoTCore", THING)

    def allowed(topic: str, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(topic, p) for p in patterns)

    # sufficient: everything the code publishes and subscribes to
    assert allowed(topic_for("any-site", THING), publish)
    for suffix in ("update", "get"):
        assert allowed(shadow_topic(THING, "config", suffix), publish)
    for suffix in ("update/delta", "update/documents", "get/accepted", "get/rejected"):
        assert allowed(shadow_topic(THING, "config", suffix), subscribe)
    # least privilege: nothing of another thing, no other shadow, no receiving telemetry
    assert not allowed(topic_for("any-site", "cnc-02"), publish)
    assert not allowed(shadow_topic("cnc-02", "config", "update"), publish)
    assert not allowed(shadow_topic(THING, "usage", "update"), publish)
    assert not allowed("$aws/things/cnc-01/shadow/update", publish)
    assert not allowed(topic_for("any-site", THING), subscribe)


def test_default_configurations_are_valid(tmp_path: Path) -> None:
    raw = {k: v for k, v in _recipe(PUBLISHER)["ComponentConfiguration"]["DefaultConfiguration"].items()}
    raw.pop("accessControl")
    config = load_config_dict(json.loads(json.dumps(raw).replace("{iot:thingName}", THING)), base=tmp_path)
    assert config.publisher.batch_size == 60 and config.shadow.enabled
    sim_defaults = _recipe(SIMULATOR)["ComponentConfiguration"]["DefaultConfiguration"]
    SimulatorSourceConfig.model_validate({"type": "simulator", **sim_defaults})


def test_the_component_imports_only_what_the_edge_extra_installs() -> None:
    # The component's virtualenv holds the base dependencies and the `edge` extra: no AWS SDK for Python,
    # no Chalice, no web3, no scientific stack (the CLI's other areas import those).
    probe = (
        "import sys, edge_greengrass.greengrass, edge_greengrass.runner, edge_greengrass.opcua, edge_greengrass.cli;"
        "import twinledger.cli.edge;"
        "import edge_greengrass.sources, edge_greengrass.transport;"
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = set(
        json.loads(
            subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.replace(
                "'", '"'
            )
        )
    )
    assert not loaded & {"boto3", "botocore", "chalice", "web3", "sklearn", "pandas", "moto", "aws_lambda_powertools"}


# -- the edge package stands alone ---------------------------------------------------------------

EDGE_PACKAGE = COMPONENTS.parent
#: What the gateway's code may import besides the standard library, itself and the domain.
EDGE_IMPORTS_FORBIDDEN = {"twinledger", "functions", "chalicelib", "app"}
#: What no gateway carries (the Lambda, analytics, chain and deployment stacks).
NOT_ON_A_GATEWAY = {
    "boto3",
    "botocore",
    "chalice",
    "web3",
    "sklearn",
    "pandas",
    "moto",
    "aws_lambda_powertools",
    "sagemaker",
    "jwt",
    "twinledger",
    "chalicelib",
    "app",
}


def _imported_modules(path: Path) -> set[str]:
    """Every absolute module an ``import`` statement of ``path`` names (top level or inside functions)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _load_build_script() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("edge_component_build", COMPONENTS / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_edge_code_imports_neither_the_command_line_nor_the_cloud_side() -> None:
    offenders = {
        f"{path.relative_to(EDGE_PACKAGE)}: {name}"
        for path in sorted(EDGE_PACKAGE.rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in EDGE_IMPORTS_FORBIDDEN
    }
    assert offenders == set()


def test_only_config_reads_the_environment() -> None:
    env_names = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}
    readers = set()
    for path in sorted(EDGE_PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = (
                {node.attr} if isinstance(node, ast.Attribute) else {node.id} if isinstance(node, ast.Name) else set()
            )
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = {alias.name for alias in node.names}
            if names & env_names:
                readers.add(path.relative_to(EDGE_PACKAGE).as_posix())
    assert readers == {"config.py"}


def test_the_environment_is_read_on_use_not_at_import(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_greengrass.config import edge_environment

    fake = FakeIpcClient(_recipe(PUBLISHER), THING, _component_config(workdir))
    assert gateway_config_from_ipc(fake, workdir=workdir).signing.key_id == THING
    monkeypatch.setenv("AWS_IOT_THING_NAME", "cnc-07")
    monkeypatch.setenv("TWINLEDGER_OPCUA_HOST", "127.0.0.1")
    config = gateway_config_from_ipc(fake, workdir=workdir)
    assert config.signing.key_id == "cnc-07" and config.signing.key_file == workdir / "keys" / "cnc-07.key"
    assert edge_environment().opcua_host == "127.0.0.1"
    monkeypatch.delenv("AWS_IOT_THING_NAME")
    monkeypatch.delenv("TWINLEDGER_OPCUA_HOST")
    assert (edge_environment().machine_id, edge_environment().opcua_host) == ("", "0.0.0.0")


def test_twinledger_edge_is_the_edge_packages_own_command_line() -> None:
    import edge_greengrass.cli
    import twinledger.cli.edge

    assert twinledger.cli.edge.register is edge_greengrass.cli.register
    assert twinledger.cli.edge.main is edge_greengrass.cli.main
    assert "edge_greengrass.cli" in _imported_modules(EDGE_PACKAGE / "__main__.py")


@pytest.mark.parametrize("folder", [PUBLISHER, SIMULATOR], ids=lambda p: p.name)
def test_the_component_artifact_carries_only_the_gateway(folder: Path, tmp_path: Path) -> None:
    # Given: the component built as `gdk component build` builds it
    build = _load_build_script()
    out = build.build(folder.name, out=tmp_path / "greengrass-build")
    version = tomllib.loads((COMPONENTS.parents[1] / "pyproject.toml").read_text())["project"]["version"]
    artifacts = out / "artifacts" / folder.name / version
    wheel = artifacts / f"twinledger_edge-{version}-py3-none-any.whl"
    # Then: the artifacts are the edge wheel and main.py, and the recipe names exactly those
    assert sorted(p.name for p in artifacts.iterdir()) == ["main.py", wheel.name]
    recipe = yaml.safe_load((out / "recipes" / "recipe.yaml").read_text())
    manifest = recipe["Manifests"][0]
    assert sorted(a["URI"].rsplit("/", 1)[1] for a in manifest["Artifacts"]) == ["main.py", wheel.name]
    assert recipe["ComponentVersion"] == version
    install = manifest["Lifecycle"]["Install"]["Script"]
    assert f'pip install --quiet "{{artifacts:path}}/{wheel.name}"' in install and "[" not in install
    # the wheel: edge_greengrass and twin_models, nothing of the command line, the cloud side or the recipes
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"twinledger_edge-{version}.dist-info/METADATA").decode()
    assert {n.split("/")[0] for n in names} == {
        "edge_greengrass",
        "twin_models",
        f"twinledger_edge-{version}.dist-info",
    }
    assert (
        "edge_greengrass/runner.py" in names and "twin_models/signing.py" in names and "twin_models/py.typed" in names
    )
    assert not [n for n in names if "/components/" in n or "__pycache__" in n or n.endswith(".pyc")]
    # ...requiring only the gateway's dependencies
    requires = {
        build.requirement_name(line.split(":", 1)[1])
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    }
    assert requires == {"awsiotsdk", "awscrt", "asyncua", "pyyaml", "cryptography", "joserfc", "pydantic", "rfc8785"}
    assert not requires & {"pandas", "scikit-learn", "chalice", "boto3", "botocore", "web3", "moto", "twinledger"}


def _installed_closure(requirements: list[str], into: Path) -> None:
    """Link the distributions ``requirements`` need (recursively) from this environment into ``into``."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        key = requirement.name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(requirement.name)
        site = Path(str(dist.locate_file("")))
        for top in {f.parts[0] for f in dist.files or [] if f.parts[0] not in ("..", "__pycache__")}:
            if not (into / top).exists() and (site / top).exists():
                (into / top).symlink_to(site / top)
        for child in dist.requires or []:
            todo.extend((Requirement(child), e) for e in ("", *requirement.extras))


def test_the_component_runs_from_its_artifact_alone(tmp_path: Path) -> None:
    # Given: the publisher component's wheel installed on its own (what the Install step does), and beside
    # it only the distributions the wheel requires -- no site-packages, no checkout on the path
    build = _load_build_script()
    out = build.build(PUBLISHER.name, out=tmp_path / "greengrass-build")
    (artifacts,) = (out / "artifacts" / PUBLISHER.name).iterdir()
    (wheel,) = artifacts.glob("*.whl")
    venv = tmp_path / "component-venv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-compile",
            "--target",
            str(venv),
            str(wheel),
        ],
        check=True,
    )
    runtime = tmp_path / "requirements"
    runtime.mkdir()
    _installed_closure(build.edge_requirements(), runtime)
    # every module the edge code imports anywhere (lazy imports too), and the component's main.py
    modules = sorted(
        {
            name
            for path in (venv / "edge_greengrass").rglob("*.py")
            if path.name != "__main__.py"
            for name in _imported_modules(path)
        }
        | {f"edge_greengrass.{p.stem}" for p in (venv / "edge_greengrass").glob("*.py") if p.stem != "__main__"}
    )
    probe = (
        "import importlib, importlib.util, json, runpy, sys\n"
        f"sys.path[:0] = [{str(venv)!r}, {str(runtime)!r}]\n"
        f"runpy.run_path({str(artifacts / 'main.py')!r}, run_name='component')\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "import edge_greengrass, twin_models\n"
        "files = {'edge_greengrass': edge_greengrass.__file__, 'twin_models': twin_models.__file__}\n"
        "print(json.dumps({'loaded': sorted({m.split('.')[0] for m in sys.modules}), 'files': files,\n"
        "                  'twinledger': importlib.util.find_spec('twinledger') is not None}))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert all(path.startswith(str(venv)) for path in report["files"].values()), report["files"]
    assert not report["twinledger"]
    assert not set(report["loaded"]) & NOT_ON_A_GATEWAY
    # the Install step's provisioning runs from the artifact too
    keys = tmp_path / "keys"
    env["PYTHONPATH"] = f"{venv}:{runtime}"
    command = [sys.executable, "-S", "-m", "edge_greengrass", "provision", "--thing", THING, "--out", str(keys)]
    provisioned = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert provisioned.returncode == 0, provisioned.stderr[-3000:]
    assert json.loads(provisioned.stdout)["private_key"] == str(keys / f"{THING}.key")
    assert stat.S_IMODE((keys / f"{THING}.key").stat().st_mode) == 0o600
