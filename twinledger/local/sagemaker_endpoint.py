"""A local stand-in for SageMaker's runtime: answers ``POST /endpoints/{name}/invocations`` with the same
inference module the real endpoint runs, so boto3 ``sagemaker-runtime`` with ``endpoint_url`` exercises
the real request/response path.

Errors follow the service's shapes: an unknown endpoint is a ``ValidationError`` (400), a failing model
a ``ModelError`` (424) carrying the model's message, which botocore raises as ``ClientError``.

Example:
    $ python -m twinledger.local.sagemaker_endpoint --model twinledger-anomaly=model.tar.gz --port 8090
    >>> rt = boto3.client("sagemaker-runtime", endpoint_url="http://127.0.0.1:8090")   # doctest: +SKIP
    >>> rt.invoke_endpoint(EndpointName="twinledger-anomaly", Body=b"...", ContentType="application/json")
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tarfile
import tempfile
import threading
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from twinledger.sagemaker_entry import inference

__all__ = ["LocalEndpointServer", "main"]

_PATH = re.compile(r"^/endpoints/(?P<name>[A-Za-z0-9-]{1,63})/invocations/?$")
_MAX_BODY = 6 * 1024 * 1024  # the service's payload limit


def _model_dir(path: Path, workdir: Path) -> Path:
    if path.is_dir():
        return path
    target = workdir / path.name.replace(".", "_")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "r:gz") as tar:
        tar.extractall(target, filter="data")
    return target


class LocalEndpointServer:
    """Serves one model per endpoint name on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, models: Mapping[str, str | Path], host: str = "127.0.0.1", port: int = 0) -> None:
        if not models:
            raise ValueError("at least one endpoint=model is needed")
        self._tmp = tempfile.TemporaryDirectory(prefix="twinledger-endpoint-")
        self.models: dict[str, Any] = {
            name: inference.model_fn(str(_model_dir(Path(path), Path(self._tmp.name)))) for name, path in models.items()
        }
        self.invocations = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] = {}) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, kind: str, message: str, extra: Mapping[str, Any] = {}) -> None:
                body = json.dumps({"__type": kind, "message": message, **extra}).encode()
                self._send(status, body, "application/x-amz-json-1.1", {"x-amzn-ErrorType": kind})

            def do_GET(self) -> None:
                if self.path == "/ping":
                    self._send(200, b"{}", "application/json")
                else:
                    self._error(404, "UnknownOperationException", "not found")

            def do_POST(self) -> None:
                match = _PATH.match(self.path.split("?")[0])
                if not match:
                    self._error(404, "UnknownOperationException", f"no operation at {self.path}")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self._error(413, "ValidationError", "request body exceeds 6 MB")
                    return
                body = self.rfile.read(length)
                name = match.group("name")
                model = server.models.get(name)
                if model is None:
                    self._error(400, "ValidationError", f"Endpoint {name} not found.")
                    return
                try:
                    request = inference.input_fn(body, self.headers.get("Content-Type"))
                    payload, ctype = inference.output_fn(
                        inference.predict_fn(request, model), self.headers.get("Accept") or "application/json"
                    )
                except Exception as exc:  # the model's failure is reported, not crashed on
                    self._error(
                        424,
                        "ModelError",
                        f'Received client error (400) from model with message "{exc}".',
                        {"OriginalStatusCode": 400, "OriginalMessage": str(exc)},
                    )
                    return
                server.invocations += 1
                self._send(HTTPStatus.OK, payload.encode(), ctype, {"x-Amzn-Invoked-Production-Variant": "AllTraffic"})

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` to pass to boto3 as ``endpoint_url``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalEndpointServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="sagemaker-endpoint", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and remove unpacked models."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._tmp.cleanup()


def _pairs(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {value!r}")
        out[name] = path
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until interrupted; prints one JSON line with its URL when ready."""
    parser = argparse.ArgumentParser(description="Local SageMaker runtime endpoint for twinledger anomaly models.")
    parser.add_argument("--model", action="append", required=True, help="NAME=model.tar.gz or model directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    server = LocalEndpointServer(_pairs(args.model), host=args.host, port=args.port)
    print(json.dumps({"url": server.url, "endpoints": sorted(server.models)}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
