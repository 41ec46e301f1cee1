"""Every function logs Powertools JSON with its invocation's Lambda context when ``TWINLEDGER_JSON_LOGS`` is on."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import observability
from tests.functional.conftest import reset_services


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """What the Powertools handler writes (it holds the stream it was built with, not pytest's capture)."""
    handler = observability.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    before = handler.setStream(buffer)
    yield buffer
    handler.setStream(before)


@pytest.fixture
def json_logs(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TWINLEDGER_JSON_LOGS", "true")
    monkeypatch.setenv("TWINLEDGER_CHAIN_RPC_URL", "eth-tester")
    monkeypatch.delenv("TWINLEDGER_ANCHOR_REGISTRY", raising=False)
    reset_services()
    yield
    reset_services()
    root = logging.getLogger(observability.LOGGER_ROOT)
    root.handlers, root.propagate = [], True
    root.setLevel(logging.NOTSET)
    observability._configured = False  # the next test starts from the process's own logging
    observability.logger.remove_keys(["function_name", "function_request_id", "cold_start", "name"])


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_scheduled_function_logs_json_with_its_request_id(json_logs: None, written: io.StringIO) -> None:
    with Client(app) as client:
        event = client.events.generate_cw_event("Scheduled Event", "aws.events", {}, [])
        client.lambda_.invoke("anchor", event)
    logging.getLogger("chalicelib.anchoring.service").warning("after the drain")

    lines = [line for line in _json_lines(written.getvalue()) if line.get("message") == "after the drain"]
    assert len(lines) == 1
    (line,) = lines
    assert line["level"] == "WARNING" and line["service"] == "twinledger"
    assert line["name"] == "chalicelib.anchoring.service"
    assert line["function_name"] == "anchor" and line["function_request_id"]


def test_without_the_setting_logging_is_left_alone(moto_aws: None, written: io.StringIO) -> None:
    with Client(app) as client:
        client.lambda_.invoke("anchor", client.events.generate_cw_event("Scheduled Event", "aws.events", {}, []))
    logging.getLogger("chalicelib.anchoring.service").warning("plain")

    assert not [line for line in _json_lines(written.getvalue()) if line.get("message") == "plain"]
    assert logging.getLogger(observability.LOGGER_ROOT).propagate
