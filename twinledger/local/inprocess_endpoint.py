"""The anomaly endpoint in process: the SageMaker inference module called directly on a model directory.

It implements the functions' ``AnomalyEndpoint`` port without HTTP or AWS, for the embedded demo and fast
tests; plug it in through the wiring (the Lambda bundle never carries the inference code).

Example:
    >>> from chalicelib.wiring import override                                    # doctest: +SKIP
    >>> with override(endpoint=InProcessEndpoint(model_dir)):                      # doctest: +SKIP
    ...     services().ingest.handle_batch(event)
"""

from __future__ import annotations

from pathlib import Path

from chalicelib.ports.anomaly import EndpointError
from twinledger.sagemaker_entry import inference

__all__ = ["InProcessEndpoint"]


class InProcessEndpoint:
    """The inference module's ``model_fn``/``input_fn``/``predict_fn``/``output_fn`` on one model directory."""

    def __init__(self, model_dir: str | Path) -> None:
        self._model = inference.model_fn(str(model_dir))

    def invoke(self, body: bytes, content_type: str = "application/json") -> bytes:
        """The response body the real endpoint would give for ``body``."""
        try:
            request = inference.input_fn(body, content_type)
            payload, _ = inference.output_fn(inference.predict_fn(request, self._model), "application/json")
        except Exception as exc:  # the module's own errors: bad input, unknown features
            raise EndpointError(f"in-process anomaly model failed: {exc}") from exc
        return str(payload).encode()
