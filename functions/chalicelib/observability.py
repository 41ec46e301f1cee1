"""Logs and traces of every function (API, schedules, ingest), set up in one place.

* **Logs**: with ``TWINLEDGER_JSON_LOGS=true`` (the CDK app sets it), the first invocation hands the
  ``chalicelib`` loggers to a Powertools :class:`~aws_lambda_powertools.Logger`, so every line a function
  writes is one JSON object with ``service``, ``level``, ``location``, the logger's ``name`` and, per
  invocation, ``function_name``, ``function_request_id`` and ``cold_start``. Locally (the default) logging is
  left as the process configured it.
* **Traces**: a Powertools :class:`~aws_lambda_powertools.Tracer`; in Lambda with active tracing it patches
  boto3, botocore and requests, so every AWS and JSON-RPC call is an X-Ray subsegment. Outside Lambda it
  is disabled by Powertools itself.

Example:
    >>> from chalice.app import Chalice
    >>> app = Chalice(app_name="example")
    >>> app.register_middleware(observe, "all")
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from chalicelib.settings import get_settings

__all__ = ["LOGGER_ROOT", "logger", "observe", "tracer"]

#: The stdlib logger every module of the functions logs under (``logging.getLogger(__name__)``).
LOGGER_ROOT = "chalicelib"

logger = Logger(service="twinledger")
tracer = Tracer(service="twinledger", patch_modules=("boto3", "botocore", "requests"))

_lock = threading.Lock()
_configured = False
_cold_start = True


def _json_logs_once() -> None:
    global _configured
    with _lock:
        if _configured:
            return
        logging.getLogger(LOGGER_ROOT)  # registered, so the copy below finds it
        copy_config_to_registered_loggers(source_logger=logger, include={LOGGER_ROOT})
        _configured = True


def observe(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every event type: JSON logs carrying the invocation's Lambda context."""
    global _cold_start
    if get_settings().json_logs:
        _json_logs_once()
        context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
        logger.append_keys(
            function_name=getattr(context, "function_name", None),
            function_request_id=getattr(context, "aws_request_id", None),
            cold_start=_cold_start,
        )
    _cold_start = False
    return get_response(event)
