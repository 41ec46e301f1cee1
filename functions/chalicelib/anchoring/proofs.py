"""The HTTP use cases of the anchoring area: read a record's proof bundle, verify a bundle."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chalicelib.anchoring.service import AnchoringService
from chalicelib.errors import BadInputError, NotVisibleError, ServiceError, validation_error
from chalicelib.ports.chain import ChainUnavailableError
from twin_models.anchoring import ProofBundle
from twin_models.tenancy import Principal, party_to

__all__ = ["ChainDownError", "ProofPendingError", "ProofQueries"]


class ProofPendingError(ServiceError):
    """The record is queued but its batch is not anchored yet (409)."""

    status = 409


class ChainDownError(ServiceError):
    """The chain cannot be reached right now (503)."""

    status = 503


class ProofQueries:
    """Proof bundles for a caller's records and bundle verification."""

    def __init__(self, service: AnchoringService) -> None:
        self.service = service

    def bundle_for(self, principal: Principal, record_id: str) -> dict[str, Any]:
        """The record's bundle as JSON; another tenant's record looks absent."""
        if not record_id:
            raise BadInputError("query parameter 'record_id' is required", field="query.record_id")
        record = self.service.store.get(record_id)
        if record is None or not party_to(principal, record.tenants):
            raise NotVisibleError(f"no record {record_id!r}")
        if record.anchored is None:
            raise ProofPendingError(f"record {record_id!r} is {record.status.value}; not anchored yet")
        bundle: dict[str, Any] = self.service.bundle(record_id).model_dump(mode="json")
        return bundle

    def verify(self, principal: Principal, body: Any) -> dict[str, Any]:
        """Checks a bundle (the request body) off line and against the registry."""
        try:
            bundle = ProofBundle.model_validate(body)
        except ValidationError as exc:
            raise validation_error(exc, "body") from exc
        try:
            return self.service.verify(bundle).as_dict()
        except ChainUnavailableError as exc:
            raise ChainDownError(str(exc)) from exc
